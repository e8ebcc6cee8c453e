# Reference numbers for evalkit's pre/post estimators, from base R (t.test, wilcox.test,
# mcnemar.test, binom.test, cor, p.adjust) and sandwich::vcovCL for cluster-robust SEs.
# Run from the repository root:
#   Rscript tests/reference/prepost/reference.R
# Writes tests/reference/prepost/reference_values.csv (dataset, quantity, value; 17 digits).
# Newcombe's method-10 interval has no base-R function; it is written out below from
# Newcombe (1998, Stat Med 17:2635, eqs. for method 10), independently of the Python code.
suppressMessages(library(sandwich))
here <- "tests/reference/prepost"
out <- list()
put <- function(dataset, quantity, value) {
  out[[length(out) + 1]] <<- data.frame(dataset = dataset, quantity = quantity,
                                        value = format(value, digits = 17), stringsAsFactors = FALSE)
}

score <- function(name, df, cluster = NULL) {
  pre <- df$pre; post <- df$post; d <- post - pre; n <- length(d)
  tt <- t.test(post, pre, paired = TRUE)
  put(name, "n", n)
  put(name, "mean_change", unname(tt$estimate))
  put(name, "se", unname(tt$stderr))
  put(name, "t", unname(tt$statistic))
  put(name, "df", unname(tt$parameter))
  put(name, "p_t", tt$p.value)
  put(name, "ci_low", tt$conf.int[1]); put(name, "ci_high", tt$conf.int[2])
  wt <- suppressWarnings(wilcox.test(post, pre, paired = TRUE))
  put(name, "wilcoxon_v", unname(wt$statistic)); put(name, "wilcoxon_p", wt$p.value)
  put(name, "cor", cor(pre, post))
  put(name, "sd_change", sd(d))
  dz <- mean(d) / sd(d); dav <- mean(d) / ((sd(pre) + sd(post)) / 2)
  put(name, "d_z", dz); put(name, "d_av", dav)
  put(name, "g_av", dav * (1 - 3 / (4 * (n - 1) - 1)))
  if (!is.null(cluster)) {
    fit <- lm(d ~ 1)
    G <- length(unique(df[[cluster]]))
    se <- sqrt(vcovCL(fit, cluster = df[[cluster]], type = "HC1")[1, 1])
    q <- qt(0.975, G - 1)
    put(name, "cr_se", se); put(name, "cr_ci_low", mean(d) - q * se); put(name, "cr_ci_high", mean(d) + q * se)
    put(name, "cr_p", 2 * pt(abs(mean(d) / se), G - 1, lower.tail = FALSE))
    put(name, "clusters", G)
  }
}

sleep_df <- read.csv(file.path(here, "score_sleep.csv"))
# the textbook example: the same numbers as R's own `sleep` data set
stopifnot(all.equal(sleep_df$pre, sleep$extra[sleep$group == 1]))
score("sleep", sleep_df)
score("small", read.csv(file.path(here, "score_small.csv")))
score("zeros", read.csv(file.path(here, "score_zeros.csv")))
cl <- read.csv(file.path(here, "score_clustered.csv"))
score("clustered", cl, cluster = "school")
score("clustered_female1", cl[cl$female == 1, ], cluster = "school")

# SDQ-style reliable change thresholds (domain reference table) and counts on the clustered data
rc <- function(sd, r) 1.96 * sqrt(2) * sd * sqrt(1 - r)
put("rc", "sdq_080", rc(5.2, 0.80)); put("rc", "sdq_062", rc(5.2, 0.62)); put("rc", "wemwbs_083", rc(8.79, 0.83))
thr <- rc(5.2, 0.80); dcl <- cl$post - cl$pre
put("rc_clustered", "improved", sum(dcl < -thr))      # SDQ: lower is better
put("rc_clustered", "deteriorated", sum(dcl > thr))

wilson <- function(x, n, z) {
  p <- x / n
  c((2 * x + z^2 - z * sqrt(z^2 + 4 * x * (1 - p))) / (2 * (n + z^2)),
    (2 * x + z^2 + z * sqrt(z^2 + 4 * x * (1 - p))) / (2 * (n + z^2)))
}
newcombe10 <- function(a, b, c, d, z = qnorm(0.975)) {
  n <- a + b + c + d
  p1 <- (a + b) / n; p2 <- (a + c) / n
  w1 <- wilson(a + b, n, z); w2 <- wilson(a + c, n, z)
  den <- as.numeric(a + b) * (c + d) * (a + c) * (b + d)
  phi <- if (den > 0) (a * d - b * c) / sqrt(den) else 0
  theta <- p2 - p1
  dl <- sqrt((p2 - w2[1])^2 - 2 * phi * (p2 - w2[1]) * (w1[2] - p1) + (w1[2] - p1)^2)
  du <- sqrt((w2[2] - p2)^2 - 2 * phi * (w2[2] - p2) * (p1 - w1[1]) + (p1 - w1[1])^2)
  c(theta, theta - dl, theta + du)
}
bt <- read.csv(file.path(here, "binary_tables.csv"))
for (name in unique(bt$table)) {
  key <- paste0("binary_", name)
  s <- bt[bt$table == name, ]
  a <- sum(s$pre == 1 & s$post == 1); b <- sum(s$pre == 1 & s$post == 0)
  c <- sum(s$pre == 0 & s$post == 1); d <- sum(s$pre == 0 & s$post == 0); n <- a + b + c + d
  nc <- newcombe10(a, b, c, d)
  put(key, "diff", nc[1]); put(key, "ci_low", nc[2]); put(key, "ci_high", nc[3])
  put(key, "wald_se", sqrt((b + c) - (c - b)^2 / n) / n)
  if (b + c == 0) {
    p <- 1
  } else if (b + c < 25) {
    p <- binom.test(b, b + c, 0.5)$p.value
  } else {
    tab <- matrix(c(a, c, b, d), 2)  # rows: baseline 1/0; columns: follow-up 1/0
    p <- mcnemar.test(tab)$p.value
    put(key, "mcnemar_chi2", unname(mcnemar.test(tab)$statistic))
  }
  put(key, "mcnemar_p", p)
  rr <- (a + c) / (a + b); se <- sqrt((b + c) / ((a + b) * (a + c)))
  put(key, "rr", rr); put(key, "rr_low", rr * exp(-qnorm(0.975) * se)); put(key, "rr_high", rr * exp(qnorm(0.975) * se))
}

cp <- read.csv(file.path(here, "count_pairs.csv"))
score("count", cp)
long <- data.frame(id = rep(cp$id, 2), area = rep(cp$area, 2), y = c(cp$pre, cp$post), post = rep(0:1, each = nrow(cp)))
fit <- glm(y ~ post, family = poisson, data = long)
for (by in c("id", "area")) {
  # HC0 with the G/(G-1) cluster adjustment: the GEE (independence) sandwich
  v <- vcovCL(fit, cluster = long[[by]], type = "HC0", cadjust = TRUE)
  se <- sqrt(v["post", "post"]); b1 <- unname(coef(fit)["post"])
  put(paste0("count_rr_", by), "ratio", exp(b1)); put(paste0("count_rr_", by), "se_log", se)
  put(paste0("count_rr_", by), "ci_low", exp(b1 - qnorm(0.975) * se))
  put(paste0("count_rr_", by), "ci_high", exp(b1 + qnorm(0.975) * se))
  put(paste0("count_rr_", by), "p", 2 * pnorm(-abs(b1 / se)))
}

p <- c(0.01, 0.04, 0.03, 0.20, 0.004)
adj <- p.adjust(p, "holm")
for (i in seq_along(p)) put("holm", paste0("p", i), adj[i])

res <- do.call(rbind, out)
write.csv(res, file.path(here, "reference_values.csv"), row.names = FALSE)
cat("wrote", nrow(res), "reference values with", R.version.string, "\n")
