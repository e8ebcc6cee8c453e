# Reference numbers for tests/test_subgroups_reference.py: saturated subgroup models fitted with
# glm/lm and covariances from sandwich (R >= 4, sandwich >= 3); glm converged to 1e-14 (its default 1e-8
# leaves the coefficients about 1e-8 from the optimum). Run from the repository root:
#   Rscript tests/reference/subgroups/reference.R
library(sandwich)
here <- "tests/reference/subgroups"
d <- read.csv(file.path(here, "subgroups_data.csv"))
d$sex <- factor(d$sex); d$eth <- factor(d$eth)
out <- list()
add <- function(model, fit, V) {
  b <- coef(fit); se <- sqrt(diag(V))
  keep <- grepl(":t$", names(b))
  out[[length(out) + 1]] <<- data.frame(model = model, term = names(b)[keep], estimate = unname(b[keep]),
                                        std_error = unname(se[keep]))
}
# Poisson (risk ratio for yb, rate ratio for yc), saturated in the subgroup, covariate x per level
f <- glm(yb ~ 0 + eth + eth:x + eth:t, family = poisson, data = d, control = glm.control(epsilon = 1e-14, maxit = 100))
add("poisson_yb_eth_HC2", f, vcovHC(f, type = "HC2"))
add("poisson_yb_eth_HC1", f, vcovHC(f, type = "HC1"))
add("poisson_yb_eth_CR1", f, vcovCL(f, cluster = ~school, type = "HC1"))
f <- glm(yc ~ 0 + sex + sex:x + sex:t, family = poisson, data = d, weights = w, control = glm.control(epsilon = 1e-14, maxit = 100))
add("poisson_yc_sex_w_HC2", f, vcovHC(f, type = "HC2"))
# linear, weighted, saturated
f <- lm(y ~ 0 + sex + sex:x + sex:t, data = d, weights = w)
add("linear_y_sex_w_HC2", f, vcovHC(f, type = "HC2"))
add("linear_y_sex_w_CR1", f, vcovCL(f, cluster = ~school, type = "HC1"))
res <- do.call(rbind, out)
write.csv(res, file.path(here, "r_reference.csv"), row.names = FALSE)
cat(sprintf("R %s, sandwich %s\n", getRversion(), packageVersion("sandwich")))
