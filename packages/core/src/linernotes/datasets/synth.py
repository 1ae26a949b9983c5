"""A synthetic Last.fm catalog at any scale, fitted on HetRec 2011 and seeded.

:func:`synthesize` writes the five raw files of HetRec 2011 (same names, columns
and encodings), so the HetRec adapter turns them into a catalog unchanged. The
statistics come from the real data (:func:`fit`); nothing else does: listener
ids are 1..U, artists get generated names ("Velo Marrin") and
``https://synthetic.invalid/`` URLs, and tags are either MusicBrainz genre names
(CC0; the only tags the adapter states as facts) or ``synth-tag-N``.

The model, at scale ``N`` (``N`` times the real listeners and artists):

- Listener profiles (history length, mean and spread of log play counts,
  tagging rows, friend count) are resampled jointly from the real listeners.
- Artist popularity (listeners per artist) follows the real rank-popularity
  curve stretched to ``N`` times the artists (log-interpolated quantiles, so the
  distribution and its power-law exponent are the same at every scale).
- Taste clusters of about ``cluster_size`` listeners: every listener has a
  primary and a secondary cluster, every artist and tag one home cluster. A
  listener's history is a bipartite configuration model over both degree
  sequences, a share ``local`` of each listener's slots matched inside their
  clusters; popular artists are mostly matched globally. This gives co-listening
  non-trivial structure.
- Play counts: the listener's log-normal location and spread times the real
  within-listener residuals, ranked with a Gaussian copula to keep the real
  correlation with artist popularity.
- Friends: a configuration model over the real degree distribution, a share
  ``homophily`` of the edges inside the primary cluster.
- Tags: a vocabulary growing as Heaps' law (fitted), tag frequencies from the
  real rank-frequency curve, genre tags where the real curve has them. A
  tagging's artist comes from the listener's history with the real
  probability, else from their cluster or everywhere by popularity; its tag
  from the artist's few signature tags, its cluster's tags, or the whole
  vocabulary. Dates are resampled from the real ones.

All arrays are numpy, vectorised: scale 100 (151k listeners, 1.76M artists)
takes minutes. The same ``seed`` (and real data) gives byte-identical files.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl

from ..errors import DataError
from . import cache_dir, locate
from .hetrec import GENRES_URL, SPECS, URL, HetRec2011, _genre_names, _tag_key

VERSION = "1"
FILES = tuple(s.filename for s in SPECS)
MARKER = "synth.json"
BLOCKED = ("cum", "fuk", "fuc", "sex", "nig", "fag", "tit", "ass", "dik", "cok", "kum", "shi")
BLOCKED += ("pis", "rap", "naz", "gay", "hor", "slu", "cun", "dic", "coc", "por", "kil", "die")
ONSETS = ["b", "br", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k", "kr", "l", "m", "n", "p"]
ONSETS += ["pl", "r", "s", "st", "t", "tr", "v", "w", "z"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io"]
CODAS = ["", "n", "r", "l", "s", "m"]


@dataclass
class Fitted:
    """The statistics of a real HetRec folder that the generator resamples."""

    n_listeners: int
    n_artists: int
    n_tags: int
    profiles: np.ndarray  # per listener: history length, mean/sd log plays, taggings, friends
    artist_degrees: np.ndarray  # listeners per artist of artists.dat (zeros too), ascending
    residuals: np.ndarray  # within-listener standardised log play counts, ascending
    max_plays: int  # the largest play count of a listening row
    popularity_corr: float  # correlation of those residuals with log artist popularity
    tag_counts: np.ndarray  # taggings per tag of tags.dat (zeros too), descending
    tag_is_genre: np.ndarray  # whether the tag at that rank names a MusicBrainz genre
    genre_names: list[str]  # genre names: the real genre tags by rank, then the rest
    heaps: float  # vocabulary ~ taggings ** heaps
    own_tag_share: float  # share of taggings on an artist of the tagger's history
    tag_bursts: np.ndarray  # tags a listener applies to one artist
    dates: np.ndarray  # (day, month, year) of every tagging


def _read(path: Path, encoding: str = "utf-8") -> pl.DataFrame:
    text = path.read_bytes().decode(encoding, errors="replace")
    return pl.read_csv(
        io.StringIO(text), separator="\t", quote_char=None, infer_schema_length=0
    ).with_columns(pl.all().str.strip_chars())


def _ints(df: pl.DataFrame, *cols: str) -> pl.DataFrame:
    return df.select(pl.col(c).cast(pl.Int64, strict=False) for c in cols).drop_nulls()


def fit(raw: Path, genres_csv: Path) -> Fitted:
    """Fit the generator's statistics on a HetRec 2011 folder (and the MusicBrainz genres)."""
    missing = [f for f in FILES if not (raw / f).is_file()]
    if missing:
        raise DataError(f"{raw}: cannot fit a synthetic catalog, lacks {', '.join(missing)}")
    artists = _ints(_read(raw / "artists.dat"), "id")
    plays = _ints(_read(raw / "user_artists.dat"), "userID", "artistID", "weight")
    plays = plays.filter(pl.col("weight") > 0).unique(["userID", "artistID"], keep="first")
    friends = _ints(_read(raw / "user_friends.dat"), "userID", "friendID")
    tags = _read(raw / "tags.dat", "latin-1").select(
        pl.col("tagID").cast(pl.Int64, strict=False), pl.col("tagValue")
    )
    taggings = _ints(
        _read(raw / "user_taggedartists.dat"), "userID", "artistID", "tagID", "day", "month", "year"
    )
    if plays.is_empty() or artists.is_empty():
        raise DataError(f"{raw}: no plays or artists to fit a synthetic catalog on")

    users = plays["userID"].unique().sort()
    deg = plays.group_by("artistID").len()
    artist_degrees = np.sort(
        artists.join(deg, left_on="id", right_on="artistID", how="left")["len"]
        .fill_null(0)
        .to_numpy()
    )
    logs = (
        plays.with_columns(lw=pl.col("weight").log())
        .join(deg.rename({"len": "d"}), on="artistID")
        .sort("userID", "artistID")  # group_by and join orders vary from run to run
    )
    logs = logs.with_columns(
        mu=pl.col("lw").mean().over("userID"), sd=pl.col("lw").std(ddof=0).over("userID")
    )
    per_user = (
        pl.DataFrame({"userID": users})
        .join(
            logs.group_by("userID").agg(
                L=pl.len(), mu=pl.col("mu").first(), sd=pl.col("sd").first()
            ),
            on="userID",
            how="left",
        )
        .join(taggings.group_by("userID").agg(T=pl.len()), on="userID", how="left")
        .join(friends.group_by("userID").agg(F=pl.len()), on="userID", how="left")
        .fill_null(0)
        .sort("userID")
    )
    spread = logs.filter(pl.col("sd") > 0).with_columns(
        z=(pl.col("lw") - pl.col("mu")) / pl.col("sd"), ld=pl.col("d").log()
    )
    z, ld = spread["z"].to_numpy(), spread["ld"].to_numpy()
    corr = float(np.corrcoef(z, ld)[0, 1]) if len(z) > 2 and ld.std() > 0 else 0.0

    genres = _genre_names(genres_csv)
    used = taggings.group_by("tagID").len()
    tag_rank = (
        tags.join(used, on="tagID", how="left")
        .with_columns(pl.col("len").fill_null(0))
        .sort(["len", "tagID"], descending=[True, False])
    )
    canonical = [genres.get(_tag_key(t or "")) for t in tag_rank["tagValue"].to_list()]
    seen: dict[str, None] = {}
    for name, n in zip(canonical, tag_rank["len"].to_list(), strict=True):
        if name is not None and n > 0:
            seen.setdefault(name)
    rest = sorted(set(genres.values()) - set(seen))
    genre_names = [g for g in [*seen, *rest] if _safe_tag(g)]

    order = np.random.default_rng(0).permutation(taggings.height)
    tag_ids = taggings["tagID"].to_numpy()[order]
    sizes = np.unique(np.geomspace(min(1000, len(tag_ids)), max(len(tag_ids), 2), 12).astype(int))
    vocab = [len(np.unique(tag_ids[:n])) for n in sizes]
    heaps = float(np.polyfit(np.log(sizes), np.log(vocab), 1)[0]) if len(sizes) > 2 else 0.6
    own = taggings.join(plays, on=["userID", "artistID"], how="semi").height
    return Fitted(
        n_listeners=len(users),
        n_artists=artists.height,
        n_tags=tags.height,
        profiles=per_user.select("L", "mu", "sd", "T", "F").to_numpy().astype(np.float64),
        artist_degrees=artist_degrees,
        residuals=np.sort(z),
        max_plays=int(plays["weight"].max()),
        popularity_corr=corr,
        tag_counts=tag_rank["len"].to_numpy(),
        tag_is_genre=np.array([c is not None for c in canonical]),
        genre_names=genre_names,
        heaps=min(max(heaps, 0.0), 1.0),
        own_tag_share=own / max(taggings.height, 1),
        tag_bursts=np.sort(taggings.group_by("userID", "artistID").len()["len"].to_numpy()),
        dates=taggings.select("day", "month", "year").to_numpy(),
    )


def _safe_tag(name: str) -> bool:
    try:
        name.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return "\t" not in name and "\n" not in name and name.strip() == name


@dataclass(frozen=True)
class Knobs:
    """The generator's structural parameters (not fitted; chosen so the statistics match)."""

    cluster_size: int = 150  # listeners per taste cluster (on average)
    cluster_zipf: float = 1.0  # cluster sizes ~ rank ** -cluster_zipf
    scenes: int = 6  # scenes per cluster: tighter groups of listeners and artists
    scene: float = 0.65  # share of a listener's history inside their scene
    local: float = 0.3  # share of a listener's history inside their clusters
    secondary: float = 0.1  # share of those local slots in the secondary cluster
    local_cap: float = 0.9  # an artist's local listeners at most this share of its cluster
    homophily: float = 0.9  # share of friendships inside the listener's scene
    signature: float = 0.5  # share of taggings with one of the artist's signature tags
    cluster_tags: float = 0.3  # share with a tag of the artist's cluster (else any tag)
    signature_tags: int = 3  # signature tags per artist
    tag_popularity: float = 0.9  # other taggings pick artists by listeners ** tag_popularity
    tag_flatten: float = 0.8  # draws from the whole vocabulary by frequency ** tag_flatten


def synthesize(
    out: Path,
    scale: float = 1.0,
    seed: int = 0,
    fitted: Fitted | None = None,
    knobs: Knobs = Knobs(),  # noqa: B008 (frozen)
    progress: bool = False,
) -> dict:
    """Write a synthetic HetRec-format folder of ``scale`` times the real size into ``out``.

    ``fitted`` defaults to :func:`fit` on the HetRec 2011 mirror (or download).
    Returns the summary also written to ``out/synth.json``.
    """
    if not scale > 0 or not np.isfinite(scale):
        raise DataError(f"scale must be a positive number, got {scale}")
    if seed < 0:
        raise DataError(f"seed must be 0 or more, got {seed}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} is a file; give a folder to write the synthetic catalog into")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise DataError(f"{out} is not empty and holds no synthetic catalog; give a new folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise DataError(f"cannot write to {out}: {e.strerror or e}") from None

    with _steps(progress, f"synthesizing scale {scale:g}") as step:
        if fitted is None:
            step("fitting on HetRec 2011")
            real = HetRec2011()
            sources = real.fetch(progress=progress)
            fitted = fit(sources["lastfm"], sources["genres"] / "genre.csv")
        gen = _Generator(fitted, scale, seed, knobs)
        step("listeners and artists")
        gen.listeners_and_artists()
        step("listening histories")
        gen.histories()
        step("play counts")
        gen.play_counts()
        step("friends")
        gen.friends()
        step("tags")
        gen.tags()
        step("artist names")
        gen.names()
        step("writing files")
        summary = gen.write(out)
    return summary


@contextlib.contextmanager
def _steps(progress: bool, title: str) -> Iterator[Callable[[str], None]]:
    if not progress:
        yield lambda _: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task(title, total=8)
        first = [True]

        def step(what: str) -> None:
            if not first[0]:
                bar.advance(task)
            first[0] = False
            bar.update(task, description=f"{title}: {what}")

        yield step
        bar.update(task, completed=8)


def _stochastic_round(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.floor(x + rng.random(len(x))).astype(np.int64)


def _stretch(values: np.ndarray, n: int, rng: np.random.Generator, stratified: bool) -> np.ndarray:
    """``n`` draws from the distribution of ``values`` (ascending), log-interpolated.

    Stratified: one draw per quantile stratum, in order, so the sample has the
    shape of the real distribution at any size (shuffle it to assign).
    """
    logs = np.log1p(values.astype(np.float64))
    u = (np.arange(n) + rng.random(n)) / n if stratified else rng.random(n)
    pos = u * len(values) - 0.5
    x = np.interp(pos, np.arange(len(values)), logs)
    return np.maximum(_stochastic_round(np.expm1(x), rng), 0)


def _pair_within(
    groups_a: np.ndarray, groups_b: np.ndarray, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pair indices of a and b with the same group at random: (pairs a, pairs b, rest a, rest b)."""
    oa = np.lexsort((rng.random(len(groups_a)), groups_a))
    ob = np.lexsort((rng.random(len(groups_b)), groups_b))
    ca, cb = np.bincount(groups_a, minlength=k), np.bincount(groups_b, minlength=k)
    n = np.minimum(ca, cb)
    ga, gb = groups_a[oa], groups_b[ob]
    ra = np.arange(len(oa)) - (np.cumsum(ca) - ca)[ga]
    rb = np.arange(len(ob)) - (np.cumsum(cb) - cb)[gb]
    ka, kb = ra < n[ga], rb < n[gb]
    return oa[ka], ob[kb], oa[~ka], ob[~kb]


def _first_unique(keys: np.ndarray, minor: np.ndarray | None = None) -> np.ndarray:
    """A mask of the first occurrence of each key (or pair of keys)."""
    if minor is None:
        order = np.argsort(keys, kind="stable")
        s = keys[order]
        first = np.ones(len(s), dtype=bool)
        first[1:] = s[1:] != s[:-1]
    else:
        order = np.lexsort((minor, keys))
        s, t = keys[order], minor[order]
        first = np.ones(len(s), dtype=bool)
        first[1:] = (s[1:] != s[:-1]) | (t[1:] != t[:-1])
    mask = np.zeros(len(keys), dtype=bool)
    mask[order[first]] = True
    return mask


class _KeySet:
    """A growing set of int64 keys: one big sorted array plus a small sorted one of additions."""

    def __init__(self, keys: np.ndarray):
        self.base = np.sort(keys)
        self.added = np.empty(0, dtype=keys.dtype)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        return _in_sorted(keys, self.base) | _in_sorted(keys, self.added)

    def add(self, keys: np.ndarray) -> None:
        self.added = np.sort(np.concatenate([self.added, keys]))

    def sorted(self) -> np.ndarray:
        return np.sort(np.concatenate([self.base, self.added]))


def _in_sorted(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] == keys


def _weighted(
    weights: np.ndarray, n: int, rng: np.random.Generator, groups: np.ndarray | None = None
):
    """Sampler of indices by ``weights``, within a group when ``groups`` (group of each index)."""
    if groups is None:
        cum = np.cumsum(weights, dtype=np.float64)

        def draw(m: int) -> np.ndarray:
            return np.minimum(np.searchsorted(cum, rng.random(m) * cum[-1], side="right"), n - 1)

        return draw
    order = np.argsort(groups, kind="stable")
    cum = np.cumsum(weights[order], dtype=np.float64)
    k = int(groups.max()) + 1 if len(groups) else 0
    counts = np.bincount(groups, minlength=k)
    ends = np.cumsum(counts)
    starts = ends - counts
    lo = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0.0)
    hi = np.where(ends > 0, cum[np.maximum(ends - 1, 0)], 0.0)

    def draw_in(g: np.ndarray) -> np.ndarray:
        """One index per entry of ``g`` from that group (-1 where the group is empty)."""
        g = np.asarray(g)
        gg = np.minimum(g, k - 1)
        x = lo[gg] + rng.random(len(g)) * (hi[gg] - lo[gg])
        at = np.clip(np.searchsorted(cum, x, side="right"), starts[gg], np.maximum(ends[gg] - 1, 0))
        ok = (g < k) & (hi[gg] > lo[gg])
        return np.where(ok, order[np.minimum(at, len(order) - 1)], -1)

    return draw_in


class _Generator:
    def __init__(self, fitted: Fitted, scale: float, seed: int, knobs: Knobs):
        self.f, self.scale, self.seed, self.k = fitted, scale, seed, knobs
        self.U = max(2, round(scale * fitted.n_listeners))
        self.M = max(10, round(scale * fitted.n_artists))
        self.V = max(10, round(fitted.n_tags * scale**fitted.heaps))
        self.K = max(1, round(self.U / knobs.cluster_size))
        self.stats: dict[str, int] = {}

    def rng(self, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, stream])

    def listeners_and_artists(self) -> None:
        rng, f, U, M, K = self.rng(1), self.f, self.U, self.M, self.K
        pick = rng.integers(0, f.n_listeners, U)
        prof = f.profiles[pick]
        self.L = np.clip(prof[:, 0].astype(np.int64), 1, M)
        self.mu = prof[:, 1] + rng.normal(0, 0.05, U)
        self.sd = prof[:, 2]
        self.T = prof[:, 3].astype(np.int64)
        self.F = np.minimum(prof[:, 4].astype(np.int64), max(U - 1, 0) // 2)
        # clusters of Zipf-distributed sizes; artists spread like listeners
        size = 1.0 / np.arange(1, K + 1) ** self.k.cluster_zipf
        size = size[rng.permutation(K)] / size.sum()
        self.g1 = rng.choice(K, U, p=size)
        self.g2 = rng.choice(K, U, p=size)
        self.c = rng.choice(K, M, p=size)
        self.s = rng.integers(0, self.k.scenes, U)  # scene of a listener in their cluster
        self.t = rng.integers(0, self.k.scenes, M)  # and of an artist
        cap = max(1, int(U * f.artist_degrees[-1] / f.n_listeners))
        d = np.minimum(_stretch(f.artist_degrees, M, rng, stratified=True), cap)
        d = d[rng.permutation(M)]
        gap = int(self.L.sum() - d.sum())
        if gap < 0:  # remove stubs uniformly over artist slots
            owners = np.repeat(np.arange(M), d)
            drop = rng.choice(len(owners), -gap, replace=False)
            d = d - np.bincount(owners[drop], minlength=M)
        elif gap > 0:  # add stubs to artists by popularity
            w = (d + 0.5) / (d + 0.5).sum()
            d = d + np.bincount(rng.choice(M, gap, p=w), minlength=M)
        self.d = d

    def histories(self) -> None:
        rng, k, U, M, K = self.rng(2), self.k, self.U, self.M, self.K
        S = k.scenes
        lu = np.repeat(np.arange(U), self.L)
        r = rng.random(len(lu))
        level = np.where(r < k.scene, 0, np.where(r < k.scene + k.local, 1, 2))
        second = rng.random(len(lu)) < k.secondary
        lg = np.where(second, self.g2[lu], self.g1[lu])
        aj = np.repeat(np.arange(M), self.d)
        d = np.maximum(self.d, 1)
        members = np.bincount(self.g1, minlength=K)
        in_scene = np.bincount(self.g1 * S + self.s, minlength=K * S)
        to_scene = np.minimum(k.scene, k.local_cap * in_scene[self.c * S + self.t] / d)
        to_cluster = np.minimum(k.scene + k.local - to_scene, k.local_cap * members[self.c] / d)
        ra = rng.random(len(aj))
        alevel = np.where(ra < to_scene[aj], 0, np.where(ra < (to_scene + to_cluster)[aj], 1, 2))
        users, items = [], []
        # scenes: the listener's primary cluster and scene, the artist's cluster and scene
        li, ai = np.flatnonzero(level == 0), np.flatnonzero(alevel == 0)
        pa, pb, la, lb = _pair_within(
            self.g1[lu[li]] * S + self.s[lu[li]], self.c[aj[ai]] * S + self.t[aj[ai]], K * S, rng
        )
        users.append(lu[li[pa]])
        items.append(aj[ai[pb]])
        scene_pairs = len(pa)
        # clusters: the rest of the local slots, and what the scenes left
        li = np.concatenate([np.flatnonzero(level == 1), li[la]])
        ai = np.concatenate([np.flatnonzero(alevel == 1), ai[lb]])
        pa, pb, la, lb = _pair_within(lg[li], self.c[aj[ai]], K, rng)
        users.append(lu[li[pa]])
        items.append(aj[ai[pb]])
        local_pairs = scene_pairs + len(pa)
        rest_u = np.concatenate([lu[level == 2], lu[li[la]]])
        rest_a = np.concatenate([aj[alevel == 2], aj[ai[lb]]])
        rest_u = rest_u[rng.permutation(len(rest_u))]
        rest_a = rest_a[rng.permutation(len(rest_a))]
        n = min(len(rest_u), len(rest_a))
        users.append(rest_u[:n])
        items.append(rest_a[:n])
        u, a = np.concatenate(users), np.concatenate(items)
        keys = u * M + a
        ok = _first_unique(keys)
        good = _KeySet(keys[ok])
        bad_u, bad_a = np.concatenate([u[~ok], rest_u[n:]]), a[~ok]
        repaired = 0
        for _ in range(30):  # re-pair the duplicates' slots among themselves
            if len(bad_u) == 0 or len(bad_a) == 0:
                break
            bad_a = bad_a[rng.permutation(len(bad_a))]
            m = min(len(bad_u), len(bad_a))
            keys = bad_u[:m] * M + bad_a[:m]
            ok = _first_unique(keys) & ~good.contains(keys)
            if ok.sum() == 0:
                break
            good.add(keys[ok])
            repaired += int(ok.sum())
            bad_u = np.concatenate([bad_u[:m][~ok], bad_u[m:]])
            bad_a = np.concatenate([bad_a[:m][~ok], bad_a[m:]])
        # slots still empty: any artist by popularity the listener does not play yet
        draw = _weighted(self.d + 0.5, M, rng)
        filled = 0
        for _ in range(20):
            if len(bad_u) == 0:
                break
            keys = bad_u * M + draw(len(bad_u))
            ok = _first_unique(keys) & ~good.contains(keys)
            good.add(keys[ok])
            filled += int(ok.sum())
            bad_u = bad_u[~ok]
        good = good.sorted()
        self.play_user, self.play_artist = good // M, good % M  # sorted by user, artist
        self.stats.update(
            history_slots=int(self.L.sum()),
            history_in_scene=scene_pairs,
            history_in_cluster=local_pairs - scene_pairs,
            history_repaired=repaired,
            history_filled_by_popularity=filled,
            history_slots_dropped=len(bad_u),
        )

    def play_counts(self) -> None:
        rng, f = self.rng(3), self.f
        n = len(self.play_user)
        deg = np.bincount(self.play_artist, minlength=self.M)[self.play_artist]
        ld = np.log(deg)
        ld = (ld - ld.mean()) / (ld.std() or 1.0)
        g = min(max(f.popularity_corr, -0.99), 0.99)
        s = g * ld + np.sqrt(1 - g * g) * rng.standard_normal(n)
        rank = np.empty(n, dtype=np.int64)
        rank[np.argsort(s, kind="stable")] = np.arange(n)
        res = f.residuals if len(f.residuals) else np.zeros(1)
        z = res[np.minimum((rank + rng.random(n)) / n * len(res), len(res) - 1).astype(np.int64)]
        u = self.play_user
        # standardise within each listener, as the real residuals are
        cnt = np.bincount(u, minlength=self.U)
        mean = np.bincount(u, z, self.U) / np.maximum(cnt, 1)
        var = np.bincount(u, (z - mean[u]) ** 2, self.U) / np.maximum(cnt, 1)
        z = np.where(cnt[u] > 1, (z - mean[u]) / np.sqrt(np.maximum(var[u], 1e-6)), 0.0)
        w = np.exp(np.minimum(self.mu[u] + self.sd[u] * z, np.log(f.max_plays)))
        self.weights = np.maximum(np.rint(w), 1).astype(np.int64)

    def friends(self) -> None:
        rng, U, K = self.rng(4), self.U, self.K * self.k.scenes
        scene = self.g1 * self.k.scenes + self.s
        deg = self.F.copy()
        if deg.sum() % 2:
            deg[np.flatnonzero(deg)[-1]] -= 1
        stubs = np.repeat(np.arange(U), deg)
        local = rng.random(len(stubs)) < self.k.homophily
        li = np.flatnonzero(local)
        order = li[np.lexsort((rng.random(len(li)), scene[stubs[li]]))]
        g = scene[stubs[order]]
        counts = np.bincount(g, minlength=K)
        rank = np.arange(len(order)) - (np.cumsum(counts) - counts)[g]
        paired = rank < (counts - counts % 2)[g]
        a, b = order[paired][0::2], order[paired][1::2]
        rest = np.concatenate([np.flatnonzero(~local), order[~paired]])
        rest = rest[rng.permutation(len(rest))]
        a = np.concatenate([stubs[a], stubs[rest[0::2]][: len(rest) // 2]])
        b = np.concatenate([stubs[b], stubs[rest[1::2]][: len(rest) // 2]])
        good = np.empty(0, dtype=np.int64)
        for _ in range(30):
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            keys = lo * U + hi
            ok = (lo != hi) & _first_unique(keys) & ~_in_sorted(keys, good)
            good = np.union1d(good, keys[ok])
            left = np.concatenate([a[~ok], b[~ok]])
            if len(left) < 2 or ok.sum() == 0:
                break
            left = left[rng.permutation(len(left))]
            a, b = left[0 : len(left) - 1 : 2], left[1::2]
        lo, hi = good // U, good % U
        self.friend_pairs = (np.concatenate([lo, hi]), np.concatenate([hi, lo]))
        self.stats.update(
            friend_edges=len(good), friend_slots_dropped=int(deg.sum() - 2 * len(good))
        )

    def tags(self) -> None:
        rng, f, k, U, M, V, K = self.rng(5), self.f, self.k, self.U, self.M, self.V, self.K
        counts = f.tag_counts[::-1]  # ascending for _stretch
        weight = _stretch(counts, V, rng, stratified=True)[::-1].astype(np.float64)
        weight = np.sort(weight)[::-1]
        at = np.minimum((np.arange(V) + 0.5) / V * len(f.tag_is_genre), len(f.tag_is_genre) - 1)
        is_genre = f.tag_is_genre[at.astype(np.int64)]
        # genre slots take the real genre tags' names in rank order, then the other genres
        pool = f.genre_names
        genre_at = np.flatnonzero(is_genre)[: len(pool)]
        names = pl.Series(np.arange(1, V + 1)).cast(pl.String).str.replace(r"^", "synth-tag-")
        names = names.scatter(genre_at, pl.Series(pool[: len(genre_at)], dtype=pl.String))
        self.tag_names = names
        home = rng.integers(0, K, V)
        home[0] = -1  # the most used tag belongs to no cluster
        tag_any = _weighted(weight**k.tag_flatten, V, rng)
        tag_in = _weighted(weight, V, rng, groups=np.where(home < 0, K, home))

        # signature tags per artist: mostly from its cluster
        s = k.signature_tags
        sig_c = np.repeat(self.c, s)
        sig = tag_in(sig_c)
        generic = (sig < 0) | (rng.random(len(sig)) < 0.3)
        sig[generic] = tag_any(int(generic.sum()))
        sig = sig.reshape(M, s)
        # an artist's most applied tag names a genre, as on Last.fm: its cluster's, else any
        genre_w = weight * (names.str.starts_with("synth-tag-").not_().to_numpy())
        if genre_w.sum() > 0:
            genre_in = _weighted(genre_w, V, rng, groups=np.where(home < 0, K, home))
            first = genre_in(self.c)
            lacking = first < 0
            first[lacking] = _weighted(genre_w, V, rng)(int(lacking.sum()))
            sig[:, 0] = first

        # tagging events: a listener tags one artist with a burst of tags (real burst sizes),
        # 50% more than needed, so that rows left after dropping repeats fill T
        bursts = f.tag_bursts if len(f.tag_bursts) else np.ones(1, dtype=np.int64)
        eu = np.repeat(np.arange(U), np.ceil(self.T * 1.5 / bursts.mean()).astype(np.int64))
        ne = len(eu)
        starts = np.searchsorted(self.play_user, np.arange(U))
        own_len = np.bincount(self.play_user, minlength=U)
        own = (rng.random(ne) < f.own_tag_share) & (own_len[eu] > 0)
        ea = np.empty(ne, dtype=np.int64)
        at = starts[eu[own]] + np.floor(rng.random(int(own.sum())) * own_len[eu[own]])
        ea[own] = self.play_artist[at.astype(np.int64)]
        pop = (np.bincount(self.play_artist, minlength=M) + 0.1) ** k.tag_popularity
        art_any = _weighted(pop, M, rng)
        art_in = _weighted(pop, M, rng, groups=self.c)
        rest = np.flatnonzero(~own)
        in_cluster = rng.random(len(rest)) < k.local + k.scene
        got = np.full(len(rest), -1)
        got[in_cluster] = art_in(self.g1[eu[rest[in_cluster]]])
        miss = got < 0
        got[miss] = art_any(int(miss.sum()))
        ea[rest] = got
        size = bursts[rng.integers(0, len(bursts), ne)]
        tu, ta = np.repeat(eu, size), np.repeat(ea, size)
        n = len(tu)
        r = rng.random(n)
        which = np.minimum(rng.geometric(0.55, n) - 1, s - 1)
        tt = sig[ta, which]
        mid = (r >= k.signature) & (r < k.signature + k.cluster_tags)
        cl = tag_in(self.c[ta[mid]])
        tt[np.flatnonzero(mid)[cl >= 0]] = cl[cl >= 0]
        far = r >= k.signature + k.cluster_tags
        tt[far] = tag_any(int(far.sum()))
        keep = _first_unique(tu * M + ta, tt)
        dropped = int((~keep).sum())
        tu, ta, tt = tu[keep], ta[keep], tt[keep]
        starts = np.searchsorted(tu, np.arange(U))
        keep = np.arange(len(tu)) - starts[tu] < self.T[tu]
        tu, ta, tt = tu[keep], ta[keep], tt[keep]
        order = np.lexsort((tt, ta, tu))
        tu, ta, tt = tu[order], ta[order], tt[order]
        pair = tu * M + ta
        new = np.ones(len(pair), dtype=bool)
        new[1:] = pair[1:] != pair[:-1]
        date = rng.integers(0, len(f.dates), int(new.sum())) if len(f.dates) else None
        self.tagging = (tu, ta, tt)
        if date is None:
            self.tag_dates = np.tile([[1, 1, 2009]], (len(tu), 1))
        else:
            self.tag_dates = f.dates[date[np.cumsum(new) - 1]]
        self.stats.update(tag_vocabulary=V, tagging_draws_repeated=dropped)

    def names(self) -> None:
        rng = self.rng(6)
        opens = [o + v for o in ONSETS for v in VOWELS]
        closes = [o + v + c for o in ONSETS for v in VOWELS for c in CODAS]
        opens, closes = (
            pl.Series([x for x in xs if not any(b in x for b in BLOCKED)], dtype=pl.String)
            for xs in (opens, closes)
        )
        blocked = "|".join(BLOCKED)
        parts: list[pl.Series] = []
        for _ in range(50):
            need = self.M - sum(len(p) for p in parts)
            if need == 0:
                break

            def word(need: int = need) -> pl.Series:
                a = opens.gather(rng.integers(0, len(opens), need))
                return (a + closes.gather(rng.integers(0, len(closes), need))).str.to_titlecase()

            full = word() + " " + word()
            ok = ~full.str.to_lowercase().str.contains(blocked) & full.is_first_distinct()
            if parts:
                ok &= ~full.is_in(pl.concat(parts).implode())
            parts.append(full.filter(ok))
        names = pl.concat(parts)
        if len(names) != self.M:
            raise DataError("could not generate unique artist names; try another seed")
        self.artist_names = names

    def write(self, out: Path) -> dict:
        def save(name: str, df: pl.DataFrame) -> None:
            df.write_csv(out / name, separator="\t", quote_style="never", line_terminator="\n")

        ids = np.arange(1, self.M + 1)
        save(
            "artists.dat",
            pl.DataFrame(
                {
                    "id": ids,
                    "name": self.artist_names,
                    "url": pl.Series(ids)
                    .cast(pl.String)
                    .str.replace(r"^", "https://synthetic.invalid/artist/"),
                    "pictureURL": pl.repeat("", self.M, eager=True),
                }
            ),
        )
        tags = pl.DataFrame({"tagID": np.arange(1, self.V + 1), "tagValue": self.tag_names})
        text = tags.write_csv(separator="\t", quote_style="never", line_terminator="\n")
        (out / "tags.dat").write_bytes(text.encode("latin-1"))  # as HetRec's tags.dat
        save(
            "user_artists.dat",
            pl.DataFrame(
                {
                    "userID": self.play_user + 1,
                    "artistID": self.play_artist + 1,
                    "weight": self.weights,
                }
            ),
        )
        a, b = self.friend_pairs
        order = np.lexsort((b, a))
        save("user_friends.dat", pl.DataFrame({"userID": a[order] + 1, "friendID": b[order] + 1}))
        tu, ta, tt = self.tagging
        save(
            "user_taggedartists.dat",
            pl.DataFrame(
                {
                    "userID": tu + 1,
                    "artistID": ta + 1,
                    "tagID": tt + 1,
                    "day": self.tag_dates[:, 0],
                    "month": self.tag_dates[:, 1],
                    "year": self.tag_dates[:, 2],
                }
            ),
        )
        summary = {
            "synthetic": True,
            "generator": "linernotes.datasets.synth",
            "version": VERSION,
            "scale": self.scale,
            "seed": self.seed,
            "fitted_on": "hetrec2011-lastfm-2k",
            "listeners": self.U,
            "artists": self.M,
            "tags": self.V,
            "clusters": self.K,
            "plays": len(self.play_user),
            "friend_rows": len(self.friend_pairs[0]),
            "taggings": len(self.tagging[0]),
            **self.stats,
        }
        (out / "README.txt").write_text(
            "SYNTHETIC DATA generated by `linernotes data synth` "
            f"(scale {self.scale:g}, seed {self.seed}).\n"
            "Same files and columns as Last.fm HetRec 2011, with statistics fitted on it;\n"
            "no row, listener or artist is real. Artist names are generated; tags are\n"
            "MusicBrainz genre names (CC0) or synth-tag-N.\n"
        )
        (out / MARKER).write_text(json.dumps(summary, indent=2) + "\n")
        return summary


class SynthLastfm(HetRec2011):
    """A synthetic Last.fm catalog (:func:`synthesize`), prepared by the HetRec adapter.

    ``path`` names a folder written by ``linernotes data synth``; without it the
    catalog of ``scale`` and ``seed`` is generated into the cache on first use.
    """

    name: ClassVar[str] = "synth"
    version: ClassVar[str] = f"{HetRec2011.version}+synth{VERSION}"

    def __init__(
        self,
        path: str | None = None,
        scale: float = 1.0,
        seed: int = 0,
        url: str = URL,
        genres_url: str = GENRES_URL,
        tags_per_item: int = 3,
        min_tag_listeners: int = 2,
        colisten_per_item: int = 3,
        min_shared: int = 2,
    ):
        super().__init__(
            url=url,
            genres_url=genres_url,
            tags_per_item=tags_per_item,
            min_tag_listeners=min_tag_listeners,
            colisten_per_item=colisten_per_item,
            min_shared=min_shared,
        )
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.path = path
        self.scale = float(scale)
        self.seed = int(seed)

    def fetch(self, progress: bool = True) -> dict[str, Path]:
        genres = locate("musicbrainz-genres", self.genres_url, ("genre.csv",), progress)
        if self.path:
            folder = Path(self.path).expanduser()
            missing = [f for f in FILES if not (folder / f).is_file()]
            if missing:
                raise DataError(
                    f"{folder}: no synthetic catalog (lacks {', '.join(missing)}); write one with "
                    f"`linernotes data synth --out {folder}`"
                )
            return {"lastfm": folder, "genres": genres}
        folder = cache_dir() / "raw" / "synth" / f"scale-{self.scale:g}-seed-{self.seed}-v{VERSION}"
        if not (folder / MARKER).is_file():
            tmp = folder.with_name(f"{folder.name}.building-{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            real = HetRec2011(url=self.url, genres_url=self.genres_url).fetch(progress)
            fitted = fit(real["lastfm"], real["genres"] / "genre.csv")
            try:
                synthesize(
                    tmp, self.scale, self.seed, fitted, progress=progress and self.scale >= 10
                )
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            shutil.rmtree(folder, ignore_errors=True)
            tmp.rename(folder)
        return {"lastfm": folder, "genres": genres}
