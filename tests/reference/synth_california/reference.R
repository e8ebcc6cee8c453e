# Reference numbers for evalkit's synthetic control: Abadie, Diamond & Hainmueller (2010),
# California's Proposition 99, computed with R's Synth (Hainmueller & Diamond, CRAN 1.1-8).
#
# Run from this folder, with Synth installed in a library R can see, e.g.
#   R_LIBS=/path/to/private/lib Rscript reference.R
# Synth 1.1-8 imports kernlab, optimx and rgenoud (Debian: r-cran-kernlab, r-cran-optimx,
# r-cran-rgenoud); Synth itself is not packaged by Debian, so install its CRAN source
# (`R CMD INSTALL -l /path/to/private/lib Synth`) outside the repository.
#
# Writes reference.json: the donor weights, predictor weights (V), predictor balance, the
# pre-period MSPE, the gap in every year, and the placebo-in-space ratios (each of the 38
# donors as if treated, with the other 37 as its donors) with California's rank p-value.

suppressMessages({
  library(Synth)
  library(jsonlite)
})

smoking <- read.csv("smoking.csv", stringsAsFactors = FALSE)
states <- sort(unique(smoking$state))
smoking$id <- match(smoking$state, states)
california <- match("California", states)
donors <- setdiff(seq_along(states), california)

# the specification of ADH (2010) Table 1: income, youth share and price averaged over
# 1980-1988, beer over 1984-1988, and cigarette sales in 1975, 1980 and 1988; the fit
# (loss V) over 1970-1988; Proposition 99 from 1989
prep <- function(treated, controls) {
  invisible(capture.output(out <- dataprep(
    foo = smoking,
    predictors = c("lnincome", "age15to24", "retprice"),
    predictors.op = "mean",
    time.predictors.prior = 1980:1988,
    special.predictors = list(
      list("beer", 1984:1988, "mean"),
      list("cigsale", 1975, "mean"),
      list("cigsale", 1980, "mean"),
      list("cigsale", 1988, "mean")
    ),
    dependent = "cigsale",
    unit.variable = "id",
    unit.names.variable = "state",
    time.variable = "year",
    treatment.identifier = treated,
    controls.identifier = controls,
    time.optimize.ssr = 1970:1988,
    time.plot = 1970:2000
  )))
  out
}

fit <- function(treated, controls) {
  dp <- prep(treated, controls)
  invisible(capture.output(s <- synth(data.prep.obj = dp)))
  w <- as.numeric(s$solution.w)
  gap <- as.numeric(dp$Y1plot - dp$Y0plot %*% w)
  years <- as.integer(rownames(dp$Y1plot))
  pre <- years <= 1988
  list(dp = dp, s = s, w = w, gap = gap, years = years,
       pre_mspe = mean(gap[pre]^2), post_mspe = mean(gap[!pre]^2))
}

main <- fit(california, donors)
weights <- setNames(as.list(main$w), states[donors])
v <- setNames(as.list(as.numeric(main$s$solution.v)), rownames(main$dp$X1))
balance <- list(
  predictor = rownames(main$dp$X1),
  treated = as.numeric(main$dp$X1),
  synthetic = as.numeric(main$dp$X0 %*% main$w),
  donor_mean = as.numeric(rowMeans(main$dp$X0))
)

placebos <- list()
for (j in donors) {
  f <- fit(j, setdiff(donors, j))
  placebos[[states[j]]] <- list(pre_mspe = f$pre_mspe, post_mspe = f$post_mspe,
                                ratio = f$post_mspe / f$pre_mspe)
  cat(states[j], f$post_mspe / f$pre_mspe, "\n")
}
ratios <- c(California = main$post_mspe / main$pre_mspe, sapply(placebos, function(p) p$ratio))
rank_ca <- sum(ratios >= ratios[["California"]])

out <- list(
  source = paste("R Synth", as.character(packageVersion("Synth")), "defaults (optimx Nelder-Mead and BFGS",
                 "from equal and regression starting values, kernlab ipop); data smoking.csv"),
  r_version = R.version.string,
  weights = weights,
  v = v,
  balance = balance,
  loss_v = as.numeric(main$s$loss.v),
  pre_mspe = main$pre_mspe,
  post_mspe = main$post_mspe,
  mspe_ratio = main$post_mspe / main$pre_mspe,
  years = main$years,
  treated = as.numeric(main$dp$Y1plot),
  gap = main$gap,
  placebos = placebos,
  placebo_rank = rank_ca,
  placebo_p_value = rank_ca / length(ratios)
)
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "reference.json")
cat("weights:\n"); print(round(unlist(weights)[unlist(weights) > 0.001], 4))
cat("pre MSPE", main$pre_mspe, "ratio", out$mspe_ratio, "rank", rank_ca, "p", out$placebo_p_value, "\n")
