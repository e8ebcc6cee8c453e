# Step-only interrupted time series (level change, trend unchanged; Bernal, Cummins & Gasparrini
# 2017's main model) on a simulated two-area monthly series, fitted by R's glm: the reference
# of tests/test_its_reference.py.  usage: Rscript step_only.R  (writes step_only.csv/.json here)
set.seed(20171001)
months <- seq(as.Date("2016-01-01"), by = "month", length.out = 72)
d <- expand.grid(month = months, area = c("north", "south"), KEEP.OUT.ATTRS = FALSE)
d <- d[order(d$area, d$month), ]
d$population <- ifelse(d$area == "north", 310000, 450000) + rep(seq(0, 7100, length.out = 72), 2)
t <- as.numeric(format(d$month, "%Y")) * 12 + as.numeric(format(d$month, "%m"))
t <- t - min(t)
post <- as.numeric(d$month >= as.Date("2019-10-01"))
season <- 0.15 * sin(2 * pi * as.numeric(format(d$month, "%m")) / 12)
mu <- d$population / 1e5 * exp(ifelse(d$area == "north", 1.2, 1.0) + 0.004 * t + season - 0.25 * post)
d$count <- rnbinom(nrow(d), mu = mu, size = 40)
out <- data.frame(area = d$area, month = format(d$month, "%Y-%m"), count = d$count, population = d$population)
write.csv(out, "step_only.csv", row.names = FALSE)
d$t <- t; d$level <- post; d$moy <- factor(as.numeric(format(d$month, "%m")))
ctl <- glm.control(epsilon = 1e-14, maxit = 100)
f <- count ~ 0 + area + t + level + moy + offset(log(population))
pois <- glm(f, family = poisson, data = d, control = ctl)
quasi <- glm(f, family = quasipoisson, data = d, control = ctl)
sp <- summary(pois)$coefficients["level", ]; sq <- summary(quasi)$coefficients["level", ]
dfq <- quasi$df.residual
g <- function(x) formatC(x, digits = 17, format = "g")
writeLines(c("{",
  paste0('  "poisson": {"log_level": ', g(sp[1]), ', "se": ', g(sp[2]), ', "ci": [', g(sp[1] - qnorm(0.975) * sp[2]), ", ", g(sp[1] + qnorm(0.975) * sp[2]), "]},"),
  paste0('  "quasi_poisson": {"log_level": ', g(sq[1]), ', "se": ', g(sq[2]), ', "df": ', dfq, ', "dispersion": ', g(summary(quasi)$dispersion), ', "ci": [', g(sq[1] - qt(0.975, dfq) * sq[2]), ", ", g(sq[1] + qt(0.975, dfq) * sq[2]), "]},"),
  '  "model": "glm(count ~ 0 + area + t + level + factor(month of year) + offset(log(population)), poisson / quasipoisson); interruption 2019-10"',
  "}"), "step_only.json")
