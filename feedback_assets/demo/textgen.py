"""Vectorized synthesis of prompts and answers from the corpus templates.

Every random choice is drawn as a numpy array up front; Python only joins the chosen strings.
"""

import json
from dataclasses import dataclass

import numpy as np

from feedback_assets.demo import corpus as c

_KIND_INDEX = {k: i for i, k in enumerate(c.KINDS)}
TOPIC_NAMES = np.array([t.name for t in c.TOPICS], dtype=object)
_TOPIC_KIND = np.array([_KIND_INDEX[t.kind] for t in c.TOPICS])
_TOPIC_DRIFT = np.array([t.drift for t in c.TOPICS])

# Flattened sentence pools: topic t owns _SENTS[_OFF[t] : _OFF[t] + _SIZE[t]].
_SENTS: list[str] = [s for t in c.TOPICS for s in t.sentences]
_SIZE = np.array([len(t.sentences) for t in c.TOPICS])
_OFF = np.concatenate([[0], np.cumsum(_SIZE)[:-1]])
_SENT_LEN = np.array([len(s) + 1 for s in _SENTS])
_SMAX = int(_SIZE.max())
_N_PROMPTS = np.array([len(t.prompts) for t in c.TOPICS])

# Whole-answer target length in characters (median, before the length factor).
_TARGET = {"support": 300.0, "code": 380.0, "json": 150.0}
_ALNUM = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))


@dataclass(frozen=True)
class Quality:
    """Per-row probabilities (arrays of length n) of degraded answers."""

    length_factor: np.ndarray
    refusal: np.ndarray
    loop: np.ndarray
    short: np.ndarray


@dataclass(frozen=True)
class Answers:
    response: list[str]
    refusal: np.ndarray
    bad: np.ndarray  # refusal, looping or short


def kind_index(kind: str) -> int:
    return _KIND_INDEX[kind]


def sample_topics(rng: np.random.Generator, kinds: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Per row: a drift topic of its kind with probability `shift`, else a base topic."""
    out = np.empty(len(kinds), dtype=np.int64)
    drifted = rng.random(len(kinds)) < shift
    for k in range(len(c.KINDS)):
        for is_drift in (False, True):
            pool = np.flatnonzero(np.equal(_TOPIC_KIND, k) & np.equal(_TOPIC_DRIFT, is_drift))
            rows = np.flatnonzero((kinds == k) & (drifted == is_drift))
            out[rows] = pool[rng.integers(0, len(pool), size=len(rows))]
    return out


def _pick(rng: np.random.Generator, values: tuple[str, ...], n: int) -> list[str]:
    return np.asarray(values, dtype=object)[rng.integers(0, len(values), size=n)].tolist()


def _non_luhn_numbers(rng: np.random.Generator, n: int, head: str) -> list[str]:
    """13-digit numbers (ids, epoch ms) whose check digit fails Luhn, so no card detector fires."""
    body = rng.integers(0, 10, size=(n, 12 - len(head)))
    digits = np.hstack([np.tile([int(ch) for ch in head], (n, 1)), body]).astype(np.int64)
    rev = digits[:, ::-1]
    doubled = rev[:, 0::2] * 2
    total = (doubled - 9 * (doubled > 9)).sum(axis=1) + rev[:, 1::2].sum(axis=1)
    bad_check = ((10 - total % 10) % 10 + 1) % 10
    full = np.hstack([digits, bad_check[:, None]])
    return ["".join(map(str, row)) for row in full.tolist()]


def draw_slots(rng: np.random.Generator, n: int) -> list[dict[str, str]]:
    dates = (np.datetime64("2026-01-01") + rng.integers(0, 365, size=n)).astype(str).tolist()
    cols = rng.integers(0, len(c.COLUMNS), size=(n, 2))
    cols[:, 1] = (cols[:, 0] + 1 + cols[:, 1] % (len(c.COLUMNS) - 1)) % len(c.COLUMNS)
    col_arr = np.asarray(c.COLUMNS, dtype=object)
    first = _pick(rng, c.FIRST_NAMES, n)
    last = _pick(rng, c.LAST_NAMES, n)
    columns = {
        "product": _pick(rng, c.PRODUCTS, n),
        "plan": _pick(rng, c.PLANS, n),
        "amount": np.char.mod("%.2f", np.round(rng.lognormal(3.8, 0.8, size=n), 2)).tolist(),
        "days": rng.integers(2, 15, size=n).astype(str).tolist(),
        "qty": rng.integers(1, 13, size=n).astype(str).tolist(),
        "order_id": np.char.mod("ORD-%08d", rng.integers(0, 10**8, size=n)).tolist(),
        "invoice_no": np.char.mod("INV-2026-%05d", rng.integers(0, 10**5, size=n)).tolist(),
        "date": dates,
        "name": [f"{a} {b}" for a, b in zip(first, last, strict=True)],
        "company": _pick(rng, c.COMPANIES, n),
        "city": _pick(rng, c.CITIES, n),
        "func": _pick(rng, c.FUNCS, n),
        "table": _pick(rng, c.TABLES, n),
        "col": col_arr[cols[:, 0]].tolist(),
        "col2": col_arr[cols[:, 1]].tolist(),
        "lib": _pick(rng, c.LIBS, n),
        "version": _pick(rng, c.VERSIONS, n),
    }
    keys = list(columns)
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def sample_variants(rng: np.random.Generator, topics: np.ndarray) -> np.ndarray:
    """Which prompt template of its topic each row asks; answers follow the same variant."""
    return (rng.random(len(topics)) * _N_PROMPTS[topics]).astype(np.int64)


def build_prompts(
    rng: np.random.Generator,
    topics: np.ndarray,
    variants: np.ndarray,
    slots: list[dict[str, str]],
) -> list[str]:
    n = len(topics)
    pre = _pick(rng, c.PROMPT_PREFIXES, n)
    suf = _pick(rng, c.PROMPT_SUFFIXES, n)
    return [
        (pre[i] + c.TOPICS[t].prompts[v] + suf[i]).format_map(slots[i])
        for i, (t, v) in enumerate(zip(topics.tolist(), variants.tolist(), strict=True))
    ]


def _bodies(
    rng: np.random.Generator, topics: np.ndarray, variants: np.ndarray, budget: np.ndarray
) -> list[list[str]]:
    """Distinct sentences of each row's topic, the one answering its prompt variant first;
    never more than the pool holds, so healthy answers do not repeat themselves."""
    n = len(topics)
    size = _SIZE[topics]
    keys = rng.random((n, _SMAX))
    keys[np.arange(n), variants % size] = -1.0
    keys[np.arange(_SMAX)[None, :] >= size[:, None]] = np.inf
    perm = np.argsort(keys, axis=1)
    # Columns past a row's pool are never taken (k <= size); point them at a valid index.
    sent_idx = _OFF[topics][:, None] + np.where(perm < size[:, None], perm, 0)
    cum = np.cumsum(_SENT_LEN[sent_idx], axis=1)
    k = np.minimum((cum < budget[:, None]).sum(axis=1) + 1, size)
    k[budget <= 0] = 0
    return [
        [_SENTS[j] for j in row[:m]] for row, m in zip(sent_idx.tolist(), k.tolist(), strict=True)
    ]


def _json_answer(topic: c.Topic, slot: dict[str, str], notes: str, broken: float) -> str:
    obj: dict[str, object] = {}
    for key, name in topic.json_fields:
        value = slot[name]
        obj[key] = float(value) if name == "amount" else int(value) if name == "qty" else value
    if notes:
        obj["notes"] = notes
    text = json.dumps(obj)
    # Occasionally invalid JSON, as real extractors produce.
    if broken < 0.01:
        return text[:-1]
    if broken < 0.02:
        return text[:-1] + ",}"
    if broken < 0.03:
        return text.replace('"', "'")
    if broken < 0.04:
        return "Sure! Here is the JSON:\n" + text
    return text


def build_answers(
    rng: np.random.Generator,
    topics: np.ndarray,
    variants: np.ndarray,
    slots: list[dict[str, str]],
    quality: Quality,
) -> Answers:
    n = len(topics)
    kinds = _TOPIC_KIND[topics]
    kind_names = [c.KINDS[k] for k in kinds.tolist()]
    target = np.array([_TARGET[k] for k in kind_names]) * rng.lognormal(0.0, 0.3, size=n)
    target *= quality.length_factor
    opener = [_pick_one(c.OPENERS[k], x) for k, x in zip(kind_names, rng.random(n), strict=True)]
    closer = [_pick_one(c.CLOSERS[k], x) for k, x in zip(kind_names, rng.random(n), strict=True)]
    snippet = [
        _variant(c.TOPICS[t].snippets, v)
        for t, v in zip(topics.tolist(), variants.tolist(), strict=True)
    ]
    fixed = np.array(
        [len(a) + len(b) + len(s) + 16 for a, b, s in zip(opener, closer, snippet, strict=True)]
    )
    fixed[kinds == _KIND_INDEX["json"]] = 80
    bodies = _bodies(rng, topics, variants, target - fixed)
    as_list = rng.random(n) < 0.3
    broken = rng.random(n)

    u = rng.random(n)
    refusal = u < quality.refusal
    loop = ~refusal & (u < quality.refusal + quality.loop)
    short = ~refusal & ~loop & (u < quality.refusal + quality.loop + quality.short)
    refusal_text = _pick(rng, c.REFUSALS, n)
    short_text = _pick(rng, c.SHORT_ANSWERS, n)
    repeats = np.maximum(3, np.round(rng.uniform(4, 9, size=n) * quality.length_factor))

    out: list[str] = []
    for i in range(n):
        topic = c.TOPICS[topics[i]]
        if refusal[i]:
            out.append(refusal_text[i])
            continue
        if short[i]:
            out.append(short_text[i])
            continue
        body = bodies[i] or [topic.sentences[0]]
        if loop[i]:
            text = " ".join([body[0]] * int(repeats[i]))
        elif topic.kind == "json":
            text = _json_answer(topic, slots[i], " ".join(body), broken[i])
            out.append(text)
            continue
        elif topic.kind == "code":
            explain = "\n".join("- " + s for s in body) if as_list[i] else " ".join(body)
            code = f"```{topic.fence}\n{snippet[i]}\n```"
            text = f"{opener[i]}\n\n{code}\n\n{explain}\n\n{closer[i]}"
        else:
            text = " ".join(p for p in (opener[i], " ".join(body), closer[i]) if p)
        out.append(text.format_map(slots[i]).strip())
    return Answers(response=out, refusal=refusal, bad=refusal | loop | short)


def _variant(options: tuple[str, ...], v: int) -> str:
    return options[v % len(options)] if options else ""


def _pick_one(options: tuple[str, ...], u: float) -> str:
    return options[int(u * len(options))]


def sprinkle(
    rng: np.random.Generator,
    texts: list[str],
    pii_rate: float,
    pii_templates: tuple[str, ...],
    lookalike_rate: float,
    eligible: np.ndarray | None = None,
) -> np.ndarray:
    """Append PII to ~pii_rate and look-alikes to ~lookalike_rate of eligible texts, in place.

    Returns the mask of rows that received PII.
    """
    n = len(texts)
    ok = np.ones(n, dtype=bool) if eligible is None else eligible
    pii = (rng.random(n) < pii_rate) & ok
    look = (rng.random(n) < lookalike_rate) & ok
    rows = np.flatnonzero(pii | look)
    m = len(rows)
    keys = ["sk-" + "".join(r) for r in _ALNUM[rng.integers(0, 62, size=(m, 32))].tolist()]
    values = {
        "email": _pick(rng, c.EMAILS, m),
        "phone": _pick(rng, c.PHONES, m),
        "card": _pick(rng, c.CARDS, m),
        "ssn": _pick(rng, c.SSNS, m),
        "ip": _pick(rng, c.IPS, m),
        "key": keys,
        "version": _pick(rng, c.VERSIONS, m),
        "long_id": _non_luhn_numbers(rng, m, "4"),
        "epoch_ms": _non_luhn_numbers(rng, m, "17"),
    }
    pii_tmpl = _pick(rng, pii_templates, m)
    look_tmpl = _pick(rng, c.LOOKALIKES, m)
    for j, i in enumerate(rows.tolist()):
        slot = {k: v[j] for k, v in values.items()}
        extra = (" " + look_tmpl[j]) if look[i] else ""
        if pii[i]:
            extra += " " + pii_tmpl[j]
        texts[i] = texts[i] + extra.format_map(slot)
    return pii
