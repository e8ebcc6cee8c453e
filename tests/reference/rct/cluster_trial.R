# A simulated cluster-randomised school trial (16 schools, 8 per arm) and R's cluster-robust
# risk ratio, rate ratio and risk difference for it: the reference of tests/test_rct_reference.py.
# glm with epsilon = 1e-14: its default (1e-8) leaves the ratio off the exact p1/p0 in the 8th digit
# usage: Rscript cluster_trial.R   (writes cluster_trial.csv and cluster_trial.json here)
suppressMessages({library(sandwich); library(lmtest)})
set.seed(20240415)
G <- 16
school <- rep(sprintf("s%02d", 1:G), times = sample(18:40, G, replace = TRUE))
arm_of <- setNames(rep(c(0, 1), each = G / 2)[sample(G)], sprintf("s%02d", 1:G))
arm <- unname(arm_of[school])
u <- rnorm(G, 0, 0.6)[match(school, sprintf("s%02d", 1:G))]
p <- plogis(-1.1 - 0.45 * arm + u)
fight <- rbinom(length(p), 1, p)
incidents <- rpois(length(p), exp(0.3 - 0.3 * arm + u))
d <- data.frame(pupil = seq_along(arm), school = school, arm = arm, fight = fight, incidents = incidents)
write.csv(d, "cluster_trial.csv", row.names = FALSE)

rr <- glm(fight ~ arm, family = poisson, data = d, control = glm.control(epsilon = 1e-14, maxit = 100))
V <- vcovCL(rr, cluster = ~school)            # glm default: type HC0, cadjust G/(G-1)
ci_rr <- exp(coefci(rr, "arm", vcov. = V))    # normal reference for a glm
ir <- glm(incidents ~ arm, family = poisson, data = d, control = glm.control(epsilon = 1e-14, maxit = 100))
Vi <- vcovCL(ir, cluster = ~school)
ci_ir <- exp(coefci(ir, "arm", vcov. = Vi))
rd <- lm(fight ~ arm, data = d)
Vd <- vcovCL(rd, cluster = ~school, type = "HC1")
ci_rd <- coefci(rd, "arm", vcov. = Vd, df = G - 1)
f <- function(x) formatC(x, digits = 17, format = "g")
writeLines(c("{",
  paste0('  "risk_ratio": ', f(exp(coef(rr)["arm"])), ','),
  paste0('  "log_rr_se": ', f(sqrt(V["arm", "arm"])), ','),
  paste0('  "rr_ci": [', f(ci_rr[1]), ', ', f(ci_rr[2]), '],'),
  paste0('  "rate_ratio": ', f(exp(coef(ir)["arm"])), ','),
  paste0('  "log_irr_se": ', f(sqrt(Vi["arm", "arm"])), ','),
  paste0('  "irr_ci": [', f(ci_ir[1]), ', ', f(ci_ir[2]), '],'),
  paste0('  "risk_difference": ', f(coef(rd)["arm"]), ','),
  paste0('  "rd_se": ', f(sqrt(Vd["arm", "arm"])), ','),
  paste0('  "rd_ci": [', f(ci_rd[1]), ', ', f(ci_rd[2]), '],'),
  '  "calls": "glm(poisson) + sandwich::vcovCL(cluster = ~school) (HC0, G/(G-1)) + lmtest::coefci; lm + vcovCL(type = HC1) + coefci(df = G - 1)"',
  "}"), "cluster_trial.json")
