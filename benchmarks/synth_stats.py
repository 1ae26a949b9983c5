"""The synthetic catalog's statistics side by side with the real HetRec data.

    uv run python benchmarks/synth_stats.py                      # real vs synth scale 1 (seed 0)
    uv run python benchmarks/synth_stats.py --synth DIR --plot docs/img/synth-stats.png
    uv run python benchmarks/synth_stats.py --catalog            # also the facts the adapter states

Reads the raw HetRec-format files of the real mirror and of synthetic folders
(written by `linernotes data synth`, or generated into a temporary folder), and
prints a Markdown table: sizes, listening, popularity and its power-law exponent,
play counts, tags, friends and co-listening structure. ``--plot`` saves log-log
rank-frequency curves (real, synth scale 1 and, with ``--scale10``, scale 10 with
ranks divided by 10). Needs LINERNOTES_DATA_MIRROR (or a downloaded dataset).
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _read(path: Path, encoding: str = "utf-8") -> pl.DataFrame:
    text = path.read_bytes().decode(encoding, errors="replace")
    return pl.read_csv(io.StringIO(text), separator="\t", quote_char=None, infer_schema_length=0)


def load(folder: Path) -> dict[str, pl.DataFrame]:
    ints = pl.all().exclude("name", "url", "pictureURL", "tagValue").cast(pl.Int64, strict=False)
    out = {
        "artists": _read(folder / "artists.dat").with_columns(ints),
        "tags": _read(folder / "tags.dat", "latin-1").with_columns(ints),
        "plays": _read(folder / "user_artists.dat").with_columns(ints).drop_nulls(),
        "friends": _read(folder / "user_friends.dat").with_columns(ints).drop_nulls(),
        "taggings": _read(folder / "user_taggedartists.dat").with_columns(ints).drop_nulls(),
    }
    return out


def powerlaw_alpha(x: np.ndarray, xmin: int = 10) -> float:
    """Discrete power-law exponent by maximum likelihood (Clauset et al. approximation)."""
    x = x[x >= xmin]
    return float(1 + len(x) / np.log(x / (xmin - 0.5)).sum()) if len(x) else float("nan")


def q(x, *ps) -> str:
    x = np.asarray(x)
    return " / ".join(f"{np.quantile(x, p):,.0f}" for p in ps) if len(x) else "-"


def jaccard_rows(x: sp.csr_matrix, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    inter = np.asarray(x[a].multiply(x[b]).sum(axis=1)).ravel()
    size = np.asarray(x.sum(axis=1)).ravel()
    union = size[a] + size[b] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0)


def stats(folder: Path, genres: set[str]) -> dict[str, str]:
    d = load(folder)
    plays, friends, taggings, tags = d["plays"], d["friends"], d["taggings"], d["tags"]
    users = plays["userID"].unique().sort()
    uidx = {u: i for i, u in enumerate(users.to_list())}
    arts = plays["artistID"].unique().sort()
    aidx = {a: i for i, a in enumerate(arts.to_list())}
    hist = plays.group_by("userID").len()["len"].to_numpy()
    per_artist = plays.group_by("artistID").len()["len"].to_numpy()
    per_user_plays = plays.group_by("userID").agg(pl.col("weight").sum())["weight"].to_numpy()
    top = np.sort(per_artist)[::-1]
    top1 = top[: max(1, len(top) // 100)].sum() / top.sum()
    u = np.array([uidx[x] for x in plays["userID"].to_list()])
    a = np.array([aidx[x] for x in plays["artistID"].to_list()])
    x = sp.csr_matrix((np.ones(len(u)), (u, a)), shape=(len(users), len(arts)))
    # co-listening among the 500 most played artists, and each popular artist's best neighbour
    pop = np.argsort(-np.asarray(x.sum(axis=0)).ravel(), kind="stable")
    head = x[:, pop[:500]]
    co = (head.T @ head).toarray()
    np.fill_diagonal(co, 0)
    n = co.shape[0]
    density = (co > 0).sum() / (n * (n - 1))
    strong = (co >= 10).sum() / (n * (n - 1))
    deg = np.diag((head.T @ head).toarray())
    jac = co / np.maximum(deg[:, None] + deg[None, :] - co, 1)
    best = jac.max(axis=1)
    # lift of the best neighbour over independence, for artists with 20+ listeners
    xt = x.T.tocsr()
    mid = np.flatnonzero(np.asarray(x.sum(axis=0)).ravel() >= 20)
    co_mid = (xt[mid] @ x).toarray()
    co_mid[np.arange(len(mid)), mid] = 0
    cnt = np.asarray(x.sum(axis=0)).ravel()
    lift = co_mid * len(users) / np.maximum(cnt[mid][:, None] * cnt[None, :], 1)
    lift = np.where(co_mid >= 5, lift, 0).max(axis=1)
    # friends: degree and taste homophily (history Jaccard of friends vs random pairs)
    fdeg = (
        pl.DataFrame({"userID": users})
        .join(friends.group_by("userID").len(), on="userID", how="left")["len"]
        .fill_null(0)
        .to_numpy()
    )
    fr = friends.filter(
        pl.col("userID").is_in(users.implode()) & pl.col("friendID").is_in(users.implode())
    )
    fa = np.array([uidx[v] for v in fr["userID"].to_list()])
    fb = np.array([uidx[v] for v in fr["friendID"].to_list()])
    rng = np.random.default_rng(0)
    ra, rb = rng.integers(0, len(users), 20000), rng.integers(0, len(users), 20000)
    jf = jaccard_rows(x, fa, fb).mean() if len(fa) else float("nan")
    jr = jaccard_rows(x, ra[ra != rb], rb[ra != rb]).mean()
    # tags
    tag_names = dict(tags.select("tagID", "tagValue").iter_rows())
    genre_rows = taggings["tagID"].replace_strict(
        {t: (v or "").lower() in genres for t, v in tag_names.items()}, default=False
    )
    tpa = taggings.group_by("artistID").agg(pl.col("tagID").n_unique())["tagID"].to_numpy()
    tfreq = taggings.group_by("tagID").len()["len"].to_numpy()
    tpu = taggings.group_by("userID").len()["len"].to_numpy()
    return {
        "listeners (with plays)": f"{len(users):,}",
        "artists (artists.dat) / with listeners": f"{d['artists'].height:,} / {len(arts):,}",
        "listening rows": f"{plays.height:,}",
        "history length p10 / p50 / p90 / max": q(hist, 0.1, 0.5, 0.9, 1),
        "listeners per artist p50 / p90 / p99 / max": q(per_artist, 0.5, 0.9, 0.99, 1),
        "power-law exponent of listeners per artist (x >= 10)": f"{powerlaw_alpha(per_artist):.2f}",
        "rows on the top 1% of artists": f"{top1:.1%}",
        "plays per row p25 / p50 / p75 / p99": q(plays["weight"].to_numpy(), 0.25, 0.5, 0.75, 0.99),
        "plays per listener p10 / p50 / p90": q(per_user_plays, 0.1, 0.5, 0.9),
        "co-listened pairs among top 500 artists (>= 1 / >= 10 shared)": (
            f"{density:.1%} / {strong:.1%}"
        ),
        "best-neighbour Jaccard, top 500 artists (mean)": f"{best.mean():.3f}",
        "best-neighbour lift (>= 5 shared), artists with 20+ listeners (median)": (
            f"{np.median(lift):.1f}"
        ),
        "tags (tags.dat) / used": f"{tags.height:,} / {len(tfreq):,}",
        "tagging rows": f"{taggings.height:,}",
        "taggings per listener p10 / p50 / p90": q(tpu, 0.1, 0.5, 0.9),
        "distinct tags per tagged artist p50 / p90 / p99": q(tpa, 0.5, 0.9, 0.99),
        "tagged artists": f"{len(tpa):,}",
        "top tag's share of taggings": f"{tfreq.max() / tfreq.sum():.1%}",
        "taggings with a genre tag": f"{genre_rows.mean():.1%}",
        "friend rows (both directions)": f"{friends.height:,}",
        "friends per listener p10 / p50 / p90 / max": q(fdeg, 0.1, 0.5, 0.9, 1),
        "listeners without friends": f"{(fdeg == 0).mean():.1%}",
        "history Jaccard: friends / random pairs": f"{jf:.3f} / {jr:.3f}",
    }


def curves(folder: Path) -> dict[str, np.ndarray]:
    d = load(folder)
    return {
        "listeners per artist": np.sort(d["plays"].group_by("artistID").len()["len"].to_numpy())[
            ::-1
        ],
        "plays per listening row": np.sort(d["plays"]["weight"].to_numpy())[::-1],
        "friends per listener": np.sort(d["friends"].group_by("userID").len()["len"].to_numpy())[
            ::-1
        ],
        "taggings per tag": np.sort(d["taggings"].group_by("tagID").len()["len"].to_numpy())[::-1],
    }


def plot(series: dict[str, tuple[Path, float]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = {label: (curves(folder), scale) for label, (folder, scale) in series.items()}
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
    for ax, what in zip(axes.ravel(), next(iter(data.values()))[0], strict=True):
        for (label, (c, scale)), style in zip(data.items(), ("-", "--", ":"), strict=False):
            y = c[what]
            ax.loglog((np.arange(len(y)) + 1) / scale, y, style, label=label, linewidth=1.5)
        ax.set_title(what)
        ax.set_xlabel("rank / scale")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Rank-frequency curves: real HetRec (mirror) vs synthetic")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def facts(folder: Path, genres: Path) -> dict[str, str]:
    from linernotes.catalog import Catalog
    from linernotes.datasets.hetrec import HetRec2011

    with tempfile.TemporaryDirectory() as tmp:
        HetRec2011().build({"lastfm": folder, "genres": genres}, Path(tmp))
        c = Catalog(Path(tmp))
        kinds = dict(c.facts.group_by("kind").len().iter_rows())
        return {
            f"catalog facts: {k}": f"{kinds.get(k, 0):,}"
            for k in ("stats", "tag", "tag_year", "colisten")
        } | {
            "catalog: screened item tags / distinct genres": (
                f"{c.item_tags.height:,} / {c.item_tags['tag'].n_unique():,}"
            ),
            "catalog: quarantined rows": f"{c.quarantine.height:,}",
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synth", type=Path, help="a synth folder (default: generate scale 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale10", action="store_true", help="also plot scale 10")
    parser.add_argument("--plot", type=Path, help="save the rank-frequency plot here")
    parser.add_argument("--catalog", action="store_true", help="also count the catalog's facts")
    args = parser.parse_args()
    from linernotes.datasets.hetrec import HetRec2011
    from linernotes.datasets.synth import fit, synthesize

    sources = HetRec2011().fetch(progress=False)
    real, genres_dir = sources["lastfm"], sources["genres"]
    genres = {n.lower() for n in pl.read_csv(genres_dir / "genre.csv")["name"].drop_nulls()}
    with tempfile.TemporaryDirectory() as tmp:
        fitted = fit(real, genres_dir / "genre.csv")
        synth = args.synth
        if synth is None:
            synth = Path(tmp) / "s1"
            synthesize(synth, 1.0, args.seed, fitted)
        left, right = stats(real, genres), stats(synth, genres)
        if args.catalog:
            left |= facts(real, genres_dir)
            right |= facts(synth, genres_dir)
        print("| statistic | HetRec mirror | synth scale 1 |")
        print("|---|---:|---:|")
        for key in left:
            print(f"| {key} | {left[key]} | {right[key]} |")
        if args.plot:
            series = {"real (mirror)": (real, 1.0), "synth scale 1": (synth, 1.0)}
            if args.scale10:
                s10 = Path(tmp) / "s10"
                synthesize(s10, 10.0, args.seed, fitted)
                series["synth scale 10 (rank / 10)"] = (s10, 10.0)
            plot(series, args.plot)
            print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
