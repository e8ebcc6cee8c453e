#!/bin/sh
# A correct MatchIt (upstream 4.7.2, which has the fix for MatchIt#163) in a private R library, for
# bench/bench_matching.py and bench/bench_run.py to time MatchIt in the same run (they look in
# /tmp/Rlib, or --matchit-lib / $EVALKIT_MATCHIT_LIB). Debian's r-cran-matchit 4.5.1 ignores
# calipers (#163) and Debian 12 has no chk and only rlang 1.0.6 (MatchIt >= 4.5.4 needs chk and
# rlang >= 1.1.0), so those three are built from their source at the commits below; the rest comes
# from Debian. Not part of the test suite: tests never need R.
#
#   sh bench/r/install-matchit.sh [LIB]        (LIB defaults to /tmp/Rlib)
#
# Sources: each repository's GitHub address and commit. Where GitHub cannot be reached, put a
# checkout of each at $SRC/rlang, $SRC/chk and $SRC/MatchIt (SRC defaults to /tmp/rsrc) and the
# clones are skipped (on the machine that first ran this they came from a mirror).
set -eu
LIB=${1:-/tmp/Rlib}
SRC=${SRC:-/tmp/rsrc}
apt-get install -y r-base-core r-base-dev r-cran-rcpp r-cran-rcppprogress r-cran-backports r-cran-rlang \
    r-cran-lifecycle r-cran-vctrs r-cran-cli r-cran-sandwich r-cran-lmtest
mkdir -p "$LIB" "$SRC"
fetch() {  # name url commit
    if [ ! -f "$SRC/$1/DESCRIPTION" ]; then
        git clone --quiet "$2" "$SRC/$1"
        git -C "$SRC/$1" checkout --quiet "$3"
    fi
}
fetch rlang https://github.com/r-lib/rlang 7a519a284f1819f997bdd01840a54ef3451bc530            # v1.1.7
fetch chk https://github.com/poissonconsulting/chk a761383ab1473a7ae2f8594329258d548341f890   # v0.10.0
fetch MatchIt https://github.com/kosukeimai/MatchIt bccb2fcba7a344be061530d8180ec9b78097b414 # 4.7.2
R CMD INSTALL --no-docs --no-multiarch -l "$LIB" "$SRC/rlang"
R CMD INSTALL --no-multiarch -l "$LIB" "$SRC/chk"
R CMD INSTALL --no-multiarch -l "$LIB" "$SRC/MatchIt"
R_LIBS="$LIB" Rscript -e 'cat("MatchIt", as.character(packageVersion("MatchIt")), "in", find.package("MatchIt"), "\n")'
