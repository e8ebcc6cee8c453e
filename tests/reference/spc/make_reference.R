# Reference values for evalkit's XmR charts (evalkit/monitor/spc.py), computed by the NHS-R
# community's NHSRplotthedots package, which implements NHS England's "Making Data Count" rules.
#
#   Rscript tests/reference/spc/make_reference.R /path/to/NHSRplotthedots
#
# The package is not on Debian and CRAN cannot be reached from the build machines, so the
# script sources the package's own R files from a checkout of
# https://github.com/nhs-r-community/NHSRplotthedots (used: commit 050b07d, release 0.2.2 era;
# nothing of it is committed here). It needs Debian's r-cran-dplyr, r-cran-rlang,
# r-cran-tidyselect, r-cran-assertthat and r-cran-stringr. Debian's dplyr is 1.0.10, whose
# case_when() has no `.default`; a shim adds it as a final TRUE ~ .default case, which is what
# dplyr 1.1 does.
#
# Writes, beside this script:
#   cases.csv     case, period, value                      (the input series)
#   options.csv   case, improvement, target, rebase, fix_after, screen_outliers
#   expected.csv  case, period, rebase_group, mean, lpl, upl, outside_limits, close_to_limits,
#                 relative_to_mean, special_cause_type, point_type  (one row per point)
#   summary.csv   case, variation_type, assurance_type     (the icons: last point, last limits)

suppressPackageStartupMessages({
  library(dplyr)
  library(rlang)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: Rscript make_reference.R /path/to/NHSRplotthedots")
pkg <- args[[1]]
here <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))))

orig_case_when <- dplyr::case_when
case_when_default <- function(..., .default = NULL) {
  if (is.null(.default)) return(orig_case_when(...))
  default <- .default
  orig_case_when(..., TRUE ~ default)
}
utils::assignInNamespace("case_when", case_when_default, ns = "dplyr")

for (f in c("ZZZ.R", "to_datetime.R", "ptd_rebase.R", "ptd_target.R", "ptd_spc_options.R",
            "ptd_validate_spc_options.R", "ptd_add_rebase_column.R", "ptd_add_target_column.R",
            "ptd_add_short_group_warnings.R", "ptd_spc_standard.R", "ptd_calculate_point_type.R",
            "ptd_calculate_assurance_type.R", "ptd_spc.R")) {
  source(file.path(pkg, "R", f))
}

months <- function(n, start = "2018-01-01") seq(as.Date(start), by = "month", length.out = n)

cases <- list()
add <- function(name, value, period = months(length(value)), improvement = "increase", target = NULL,
                rebase = NULL, fix_after = NULL, screen = FALSE) {
  cases[[name]] <<- list(value = value, period = period, improvement = improvement, target = target,
                         rebase = rebase, fix_after = fix_after, screen = screen)
}

# 1. The package's own test series: rnorm(20) with seed 123, daily from 2020-01-02.
set.seed(123)
rn <- rnorm(20)
rn_days <- seq(as.Date("2020-01-02"), by = "day", length.out = 20)
add("rnorm20_screened", rn, rn_days, screen = TRUE)
add("rnorm20", rn, rn_days)
add("rnorm20_target_increase", rn, rn_days, target = 0.5)
add("rnorm20_target_decrease", rn, rn_days, improvement = "decrease", target = 0.5)
add("rnorm20_target_pass", rn, rn_days, target = -3.5)
add("rnorm20_target_fail", rn, rn_days, target = 3.5)
add("rnorm20_target_fail_decrease", rn, rn_days, improvement = "decrease", target = -3.5)
add("rnorm20_neutral", rn, rn_days, improvement = "neutral", target = 0.5)

# 2. The package's "deviations from Excel" vignette: one outlier; the Excel tool (Making Data
#    Count) does not screen it out of the moving ranges, the package does by default.
dev <- c(1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1)
dev_days <- seq(as.Date("2021-03-22"), by = "day", length.out = 18)
add("vignette_outlier_excel", dev, dev_days)
add("vignette_outlier_screened", dev, dev_days, screen = TRUE)

# 3. Series built so that each rule fires, on monthly periods.
set.seed(20240301)
base <- round(rnorm(30, 50, 4), 1)
shift <- base; shift[18:26] <- shift[18:26] + 9                       # a run above the mean
add("shift_up_concern", shift, improvement = "decrease", target = 45)
add("shift_up_improvement", shift, improvement = "increase", target = 45)
trend <- base; trend[10:17] <- c(40, 43, 46, 49, 52, 55, 58, 61)      # rising through the mean
add("trend_up", trend, improvement = "increase")
trend_down <- base; trend_down[20:27] <- c(62, 59, 56, 53, 50, 47, 44, 41)
add("trend_down", trend_down, improvement = "increase")
ties <- base; ties[10:16] <- c(40, 43, 46, 46, 49, 52, 55)            # a tie breaks a trend
add("trend_broken_by_tie", ties)
m <- mean(base); amr <- mean(abs(diff(base)))
near <- base; near[c(12, 14)] <- m + 2.5 * amr; near[13] <- m + 1.5 * amr   # two of three near the top
add("two_of_three_high", near, improvement = "decrease")
near_low <- base; near_low[c(21, 23)] <- m - 2.5 * amr; near_low[22] <- m - 1.5 * amr
add("two_of_three_low", near_low, improvement = "decrease")
near_split <- base; near_split[c(12, 14)] <- m + 2.5 * amr; near_split[13] <- m - 0.2 * amr
add("two_of_three_split_by_mean", near_split)                         # middle point below the mean
trend_end <- base; trend_end[24:30] <- c(58, 55, 52, 49, 46, 43, 40)  # the latest points fall
add("trend_down_at_end", trend_end, improvement = "increase", target = 30)
# exactly six and exactly seven: the boundaries of the trend and shift rules
six <- base; six[9:16] <- c(60, 40, 43, 46, 49, 52, 55, 45)           # six rising points, broken both ends
add("trend_of_six", six)
seven <- base; seven[9:17] <- c(60, 40, 43, 46, 49, 52, 55, 58, 45)  # seven rising points
add("trend_of_seven", seven)
run6 <- rep(c(47, 53), 15); run6[10:17] <- c(45, 55, 56, 54, 57, 55, 56, 45)  # alternating, then six above
add("shift_of_six", run6)
run7 <- rep(c(47, 53), 15); run7[10:18] <- c(45, 55, 56, 54, 57, 55, 56, 54, 45)
add("shift_of_seven", run7, improvement = "decrease")
out <- base; out[c(8, 25)] <- c(75, 20)                               # beyond both limits
add("beyond_limits", out, improvement = "increase")
add("beyond_limits_neutral", out, improvement = "neutral")
last_out <- base; last_out[30] <- 80
add("last_point_beyond_upper", last_out, improvement = "decrease", target = 55)

# 4. Step changes (a re-phased baseline) and baselines fixed after n points.
set.seed(7)
knife <- c(rpois(36, 60), rpois(30, 45))                              # a fall after month 37
add("step_change", knife, months(66, "2017-04-01"), improvement = "decrease", target = 50,
    rebase = as.Date("2020-04-01"))
add("no_step_change", knife, months(66, "2017-04-01"), improvement = "decrease", target = 50)
add("two_step_changes", knife, months(66, "2017-04-01"), improvement = "decrease", target = 50,
    rebase = as.Date(c("2019-04-01", "2020-04-01")))
add("fixed_baseline", knife, months(66, "2017-04-01"), improvement = "decrease", fix_after = 18)
add("fixed_baseline_step", knife, months(66, "2017-04-01"), improvement = "decrease", target = 40,
    fix_after = 15, rebase = as.Date("2020-04-01"))
add("screened_step", knife, months(66, "2017-04-01"), improvement = "decrease", screen = TRUE,
    rebase = as.Date("2020-04-01"))

# 5. Longer random series, to exercise every rule together.
for (s in 1:6) {
  set.seed(1000 + s)
  y <- round(cumsum(rnorm(48, 0, 1)) + rnorm(48, 20, 2), 2)
  add(sprintf("random_walk_%d", s), y, months(48, "2016-01-01"),
      improvement = c("increase", "decrease", "neutral")[(s %% 3) + 1], target = 20 + s %% 2)
}

fmt <- function(x) ifelse(is.na(x), "", trimws(formatC(x, digits = 17, format = "g")))
rows <- list(); opts <- list(); exp <- list(); summ <- list()
for (name in names(cases)) {
  cs <- cases[[name]]
  df <- data.frame(period = cs$period, value = cs$value)
  args <- list(df, value_field = "value", date_field = "period", improvement_direction = cs$improvement,
               screen_outliers = cs$screen)
  if (!is.null(cs$target)) args$target <- ptd_target(cs$target)
  if (!is.null(cs$rebase)) args$rebase <- ptd_rebase(cs$rebase)
  if (!is.null(cs$fix_after)) args$fix_after_n_points <- cs$fix_after
  r <- suppressWarnings(do.call(ptd_spc, args))
  rows[[name]] <- data.frame(case = name, period = format(cs$period), value = fmt(cs$value))
  opts[[name]] <- data.frame(case = name, improvement = cs$improvement,
                             target = if (is.null(cs$target)) "" else fmt(cs$target),
                             rebase = if (is.null(cs$rebase)) "" else paste(format(cs$rebase), collapse = ";"),
                             fix_after = if (is.null(cs$fix_after)) "" else as.character(cs$fix_after),
                             screen_outliers = tolower(as.character(cs$screen)))
  exp[[name]] <- data.frame(case = name, period = format(as.Date(r$x)), rebase_group = r$rebase_group,
                            mean = fmt(r$mean_col), lpl = fmt(r$lpl), upl = fmt(r$upl),
                            outside_limits = tolower(as.character(r$outside_limits)),
                            close_to_limits = tolower(as.character(r$close_to_limits)),
                            relative_to_mean = r$relative_to_mean,
                            special_cause_type = r$special_cause_type, point_type = r$point_type)
  last <- r[nrow(r), ]
  assurance <- if (is.null(cs$target)) NA else ptd_calculate_assurance_type(r)$assurance_type
  summ[[name]] <- data.frame(case = name, variation_type = last$point_type,
                             assurance_type = ifelse(is.na(assurance), "", assurance))
}
write <- function(x, file) write.csv(do.call(rbind, x), file.path(here, file), row.names = FALSE, quote = FALSE)
write(rows, "cases.csv")
write(opts, "options.csv")
write(exp, "expected.csv")
write(summ, "summary.csv")
cat("wrote", length(cases), "cases to", here, "\n")
