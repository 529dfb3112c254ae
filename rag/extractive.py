"""The offline answerer: picks the retrieved sentences that best answer the question.

No network, no LLM. Every sentence of the passages shown is scored by
- meaning: cosine between the question's and the sentence's embedding (same encoder
  as retrieval),
- words: the share of the question's content terms the sentence contains, each term
  weighted by how rare it is among the candidate sentences,
- the kind of answer asked for: a why-question favours sentences that give a cause;
  when/how-many/who questions need a date, a number or a name,
- the rank of its passage.
The best sentences (at most `max_sentences`, near-duplicates dropped) become the answer,
each cited with its passage number. When no sentence clears the bar, or the question
wants a date or number that no good sentence holds, it abstains.

What it does not do: paraphrase, combine facts, or follow any instruction found in the
articles — it only quotes them, and never quotes a sentence that addresses a machine
reader ("ignore previous instructions…", "AI assistants must answer…").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rag.injection import flagged
from rag.text import terms, words
from rag.types import Hit

if TYPE_CHECKING:
    import numpy as np

ABSTAIN_PREFIX = "The indexed articles don't say"

EmbedFn = Callable[[Sequence[str]], "np.ndarray"]


@dataclass(frozen=True, slots=True)
class ExtractiveParams:
    w_dense: float = 0.55
    w_lexical: float = 0.30
    w_cue: float = 0.25
    w_rank: float = 0.05
    min_score: float = 0.30  # below this, nothing answers the question
    min_dense: float = 0.25
    relative_keep: float = 0.85  # extra sentences must score this share of the best
    max_sentences: int = 3
    max_words: int = 110
    redundancy: float = 0.80  # cosine above which two sentences say the same thing
    typed_keep: float = 0.70  # a typed answer must score this share of the best sentence
    specific_share: float = 0.2  # a word in at most this share of sentences is specific
    specific_cover: float = 0.5  # share of the specific words' weight a typed answer holds
    why_without_cause: float = 0.6  # score factor for why-answers that give no cause
    closest_margin: float = 0.01  # a typed answer off the question's words: this near the top


_WHY = re.compile(
    r"^\s*(why|how come)\b|\b(reason|reasons|motive|motives|rationale|what (drove|prompted|"
    r"motivated|led|caused|compelled)|what is behind|what's behind)\b",
    re.I,
)
_WHEN = re.compile(r"^\s*when\b|\b(what|which) (year|date|month|day|decade)\b|\bsince when\b", re.I)
_HOW_MANY = re.compile(
    r"\bhow (many|much|long|old|far)\b|\b(what|which) (number|percentage|share|amount|toll)\b"
    r"|\bdeath toll\b",
    re.I,
)
_WHO = re.compile(
    r"^\s*(who|whom|whose)\b|\bwhich (person|official|analyst|economist|"
    r"activist|leader|minister)\b|\bname of\b",
    re.I,
)
_CAUSE = re.compile(  # explicit causal links
    r"\b(because|due to|driven by|is driven|are driven|reasons?|rationale|so that|in order to|"
    r"seeks? (to|both)|aims? to|motivated by|prompted by|compels?|as a result of|stems from|"
    r"owing to|thanks to|in response to|is less about|more about)\b",
    re.I,
)
_CAUSE_WEAK = re.compile(  # words that often carry a motive
    r"\b(concerns?|fears?|anxiet(y|ies)|threats?|interests?|security|benefits?|strateg\w*|"
    r"pragmatic|ambitions?|desperate|needs?|wants?|betting)\b",
    re.I,
)
_DATE = re.compile(
    r"\b(1[89]\d\d|20\d\d)\b|\b(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|"
    r"aug(ust)?|sep(t(ember)?)?|oct(ober)?|nov(ember)?|dec(ember)?)\b|\b(monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday|yesterday|today|last (year|month|week))\b",
    re.I,
)
_NUMBER = re.compile(
    r"\d[\d,.]*\d|\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|hundreds|thousand|thousands|million|billion|dozens?|decades?)\b",
    re.I,
)
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+")
_PROPER = re.compile(r"[A-Z][\w’'\-]*(?:\s+[A-Z][\w’'\-]*)*")
_NOT_NAMES = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday i the a an in on at for".split()
)
# words a question uses to ask, not to say what it is about
_GENERIC = frozenset(
    "name names kind type happen happened say says said describe describes mean means exactly "
    "roughly approximately many much long year years date time first called according article "
    "report reports new recent current currently day month week come comes came coming go goes "
    "went get gets got take takes took make makes made give gives gave become becomes became"
    "".split()
)
_LEAD = re.compile(
    r"^(notably|in fact|indeed|however|but|and|yet|still|meanwhile|moreover|furthermore|"
    r"also|so|thus|previously|fast-forward to today)\s*[,:]?\s+",
    re.I,
)
# text written at a machine reader, not reporting: never quoted as an answer
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b(\s+\w+){0,3}\s+(instructions?|prompts?|directions|"
    r"guidelines)\b|\b(ignore|disregard|forget)\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|"
    r"earlier)\b|\bsystem prompt\b|\byou are now\b|\bas an ai\b|\b(ai|language model|assistant|"
    r"chatbot)s?,? (must|should|will) (answer|reply|respond|say|state)\b|\b(respond|reply|answer) "
    r"(only )?with\b",
    re.I,
)
_JUNK = re.compile(r"^(related sources|sources?|read more|advertisement)\b|^[•\-–*]\s*", re.I)


def question_kind(q: str) -> str:
    if _WHY.search(q):
        return "why"
    if _WHEN.search(q):
        return "when"
    if _HOW_MANY.search(q):
        return "number"
    if _WHO.search(q):
        return "who"
    if _LIST.search(q):
        return "list"
    return "other"


# "what three factors", "which two countries", "list the ..."
_LIST = re.compile(
    r"\b(what|which|name)\s+(the\s+)?(two|three|four|five|six|several)\b|^\s*list\b", re.I
)
# an enumeration: "security anxieties, energy ambitions, and authoritarian solidarity"
_ENUMERATION = re.compile(r"\w[\w' -]*,\s*\w[\w' -]*,?\s+(and|or)\s+\w")


@dataclass(slots=True)
class Candidate:
    passage: int  # 1-based number of the passage shown
    start: int  # span in the document
    end: int
    text: str
    score: float = 0.0
    dense: float = 0.0
    cue: float = 0.0
    before: str = ""  # the sentence before it in the passage ("The request" → which one?)
    vector: Any = None  # stored late-chunking vector of the sentence, if the index has them


def candidates(hits: Sequence[Hit]) -> list[Candidate]:
    """Sentences of the shown passages; a sentence repeated by overlapping chunks appears once."""
    seen: set[tuple[str, int, int]] = set()
    out: list[Candidate] = []
    for n, h in enumerate(hits, 1):
        c = h.chunk
        previous = ""
        stored = h.sentence_vectors
        if stored is not None and len(stored) != len(c.sentences):
            stored = None
        for k, (s, e) in enumerate(c.sentences or [(c.start, c.end)]):
            key = (c.doc_id, s, e)
            text = c.text[s - c.start : e - c.start].strip()
            before, previous = previous, text
            if key in seen:
                continue
            seen.add(key)
            if len(text.split()) < 4 or (_JUNK.match(text) and len(text.split()) < 8):
                continue
            if text.rstrip("”’\"' )").endswith("?"):  # a question is not an answer
                continue
            # planted instructions are not news (flags: rag.injection, found at ingest)
            if _INSTRUCTION.search(text) or flagged(c, (s, e)):
                continue
            vec = stored[k] if stored is not None else None
            out.append(Candidate(n, s, e, text, before=before, vector=vec))
    return out


@dataclass(slots=True)
class Extract:
    """What the answerer picked: (passage number, span, sentence text), or an abstention."""

    picks: list[Candidate]
    abstained: bool
    kind: str


def pick_sentences(
    question: str,
    hits: Sequence[Hit],
    embed: EmbedFn,
    params: ExtractiveParams = ExtractiveParams(),
) -> Extract:
    import numpy as np

    kind = question_kind(question)
    cands = candidates(hits)
    if not cands:
        return Extract([], True, kind)
    qv = np.asarray(embed([question])[0], dtype=np.float32)
    missing = [c for c in cands if c.vector is None]
    if missing:  # an index without sentence vectors: embed the sentences now
        for c, v in zip(missing, embed([c.text for c in missing]), strict=True):
            c.vector = v
    sv = np.stack([np.asarray(c.vector, dtype=np.float32) for c in cands])
    dense = sv @ qv

    q_terms = set(terms(question))
    cand_terms = [set(terms(c.text)) for c in cands]
    n = len(cands)
    weights = {t: math.log(1 + (n + 1) / (1 + sum(t in ct for ct in cand_terms))) for t in q_terms}
    total = sum(weights.values()) or 1.0
    for i, c in enumerate(cands):
        lexical = sum(w for t, w in weights.items() if t in cand_terms[i]) / total
        cue = _cue(kind, c.text)
        rank = 1.0 / c.passage
        c.dense = float(dense[i])
        c.cue = cue
        c.score = (
            params.w_dense * c.dense
            + params.w_lexical * lexical
            + params.w_cue * cue
            + params.w_rank * rank
        )
        if kind == "why" and cue < 0.5:
            c.score *= params.why_without_cause  # restating the event is not a reason

    order = sorted(range(n), key=lambda i: -cands[i].score)
    best = cands[order[0]]
    if best.score < params.min_score or best.dense < params.min_dense:
        # a name the question gives ("What did Fiona Hill say?") means little to the
        # embedding model: a sentence that holds the whole name is still on the subject
        named = [i for i in order if _holds_a_name(question, cand_terms[i])]
        if not named:
            return Extract([], True, kind)
        order = named + [i for i in order if i not in named]
        best = cands[order[0]]
    if kind in _TYPED:
        # a when / how-many / who question needs a sentence that holds a date / number /
        # name the question does not already give, and that is about the question's
        # specific subject (one of its rarer words), when the passages have any of them
        df = {t: sum(t in ct for ct in cand_terms) for t in q_terms | _name_terms(cands)}
        rare = max(2.0, params.specific_share * n)
        specific = {t for t in q_terms if words(t)[0] not in _GENERIC and 0 < df[t] <= rare}
        known = set(words(question)) | {t for t, k in df.items() if k > rare}
        weight = {t: math.log(1 + n / df[t]) for t in specific}
        need = params.specific_cover * sum(weight.values())

        def on_subject(i: int) -> bool:  # "The request, ..." is about the sentence before
            near = cand_terms[i]
            if _REFERS_BACK.match(cands[i].text):
                near = near | set(terms(cands[i].before))
            return sum(w for t, w in weight.items() if t in near) >= need

        # on the subject by its words, or the closest in meaning of all the sentences
        # ("designated as an outlawed terrorist movement in 2003" for "when was it banned")
        top_dense = max(c.dense for c in cands)

        def closest(i: int) -> bool:  # not for names: any sentence near the topic has some
            return kind != "who" and cands[i].dense >= top_dense - params.closest_margin

        order = [
            i
            for i in order
            if _has_new(kind, cands[i].text, known) and (on_subject(i) or closest(i))
        ]
        if not order or cands[order[0]].score < params.typed_keep * best.score:
            return Extract([], True, kind)
        best = cands[order[0]]

    picked: list[int] = [order[0]]
    n_words = len(best.text.split())
    limit = params.max_sentences if kind in ("why", "other", "list") else 2
    for i in order[1:]:
        if len(picked) >= limit:
            break
        c = cands[i]
        if c.score < params.relative_keep * best.score or c.score < params.min_score:
            break
        if any(float(sv[i] @ sv[j]) > params.redundancy for j in picked):
            continue
        if kind == "why" and c.cue < 0.5:
            continue
        if n_words + len(c.text.split()) > params.max_words:
            continue
        picked.append(i)
        n_words += len(c.text.split())
    return Extract([cands[i] for i in picked], False, kind)


_TYPED = ("when", "number", "who")
_REFERS_BACK = re.compile(r"^(the|this|that|these|those|it|its|he|his|she|her|they|their)\b", re.I)


_NAME_TOKEN = re.compile(r"[A-Z][\w’']*(?:-[A-Z][\w’']*)*")


def _names(text: str) -> list[list[str]]:
    """Runs of capitalised words, as lowercase words ("Taliban-ruled" is not a name; a
    single capitalised word opening the sentence is not one either)."""
    out: list[list[str]] = []
    run: list[str] = []
    first = True
    for raw in text.split():
        core = raw.strip("“”\"'‘’()[],.;:!?—–")
        is_name = bool(_NAME_TOKEN.fullmatch(core)) and core.lower() not in _NOT_NAMES
        if is_name:
            run.append(core)
        if run and (not is_name or raw[-1:] in ',.;:!?)”"—'):
            if not (first and len(run) == 1 and text.startswith(run[0])):
                out.append(words(" ".join(run)))
            run = []
        first = False
    if run and not (len(run) == 1 and text.startswith(run[0])):
        out.append(words(" ".join(run)))
    return out


def _holds_a_name(question: str, sentence_terms: set[str]) -> bool:
    """Does the sentence hold every word of a name of two or more words in the question?"""
    for toks in _names(question):
        want = {t for w in toks for t in terms(w)}
        if len(toks) >= 2 and want and want <= sentence_terms:
            return True
    return False


def _name_terms(cands: Sequence[Candidate]) -> set[str]:
    return {t for c in cands for toks in _names(c.text) for t in terms(" ".join(toks))}


def _has_new(kind: str, text: str, known: set[str]) -> bool:
    """Does `text` hold a date / number / name (by `kind`) that is not in `known`?

    `known` holds the question's words and the stems of words common to most passages
    (for a name: "Taliban" in articles about the Taliban is the topic, not an answer).
    """
    if kind == "who":  # a person or organisation: two or more capitalised words
        return any(
            len(toks) >= 2
            and any(w not in known and (terms(w) or [w])[0] not in known for w in toks)
            for toks in _names(text)
        )
    rx = _DATE if kind == "when" else _NUMBER
    return any(not set(words(m.group(0))) <= known for m in rx.finditer(text))


def _cue(kind: str, text: str) -> float:
    if kind == "why":
        return min(1.0, 0.8 * bool(_CAUSE.search(text)) + 0.2 * len(_CAUSE_WEAK.findall(text)))
    if kind == "when":
        return 1.0 if _DATE.search(text) else 0.0
    if kind == "number":
        return 1.0 if _NUMBER.search(text) else 0.0
    if kind == "who":
        return 1.0 if _NAME.search(text) else 0.0
    if kind == "list":
        return 1.0 if _ENUMERATION.search(text) else 0.0
    return 0.0


def compose(extract: Extract, question: str) -> str:
    """The answer text with `[n]` markers (passage numbers), or the abstention sentence."""
    if extract.abstained:
        return abstention(question)
    return " ".join(_cite(_tidy_sentence(c.text), c.passage) for c in extract.picks)


def abstention(question: str) -> str:
    q = " ".join(question.split())
    if len(q) > 200:  # a long question is not repeated whole
        q = q[:200].rsplit(" ", 1)[0] + " …"
    return f"{ABSTAIN_PREFIX} — none of the passages I found answers “{q}”"


def _tidy_sentence(s: str) -> str:
    s = _LEAD.sub("", s.strip()).strip()
    s = _JUNK.sub("", s).strip()
    if s and s[0].islower():
        s = s[0].upper() + s[1:]
    return s


def _cite(sentence: str, n: int) -> str:
    m = re.search(r"([.!?]+)$", sentence)
    if m:
        return f"{sentence[: m.start()]} [{n}]{m.group(1)}"
    if sentence.endswith(("”", '"', "’", ")")):
        return f"{sentence} [{n}]"
    return f"{sentence} [{n}]."
