"""Suspected instructions in article text: sentences written at an AI reader, not a human.

A news archive is untrusted input. `scan(text)` scores every sentence of a document for
signs that it addresses a machine reader or gives it orders, and returns the ones at or
above `THRESHOLD` as `Flag(start, end, score, reason)` in document coordinates. Cues,
each with a weight (combined as a noisy-OR: 1 - Π(1 - w)):
- it addresses an AI reader ("note to chatbots", "if you are a language model", "AI
  models reading this page", "dear assistant");
- it tries to override instructions ("ignore all previous instructions", "you are now");
- it gives orders about the answer ("in your response", "reply only", "answer every
  question about…", "begin any reply with…", "X must say that…");
- chat-template or role markup ("<|im_start|>", "[INST]", "### Instruction:", "system:",
  an HTML comment left in the text, "</article>");
- invisible characters (Unicode tag characters, bidi overrides) that hide text;
- a bare request off the article's subject: a sentence that opens with a task verb
  ("Explain…", "Write…", "Translate…") or asks a question, whose words the rest of the
  article never uses.
A flagged sentence lends weight to its neighbours in the same paragraph: a payload
("The real reason is X.") between two orders is part of the order. Scores are rounded to
two places; `reason` names each cue that fired with the words that fired it.

Flagged sentences stay in the article (the chat shows them as such); the answerers never
quote them or count them as support (`flagged`), and the text an LLM sees has them cut
out (`redact`). What it does not do: decide whether a sentence is true; a false claim
stated as plain news is not an instruction, and catching it is the support check's job.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol

from rag.text import terms

DETECTOR_VERSION = "4"
THRESHOLD = 0.5  # a sentence scoring this much is flagged
STRONG = 0.7  # a sentence this sure flags its whole paragraph
REDACTED = "[sentence removed: it addressed AI systems]"


class Flag(NamedTuple):
    """A suspected instruction: a sentence span of the document body, scored, with why."""

    start: int
    end: int
    score: float
    reason: str


class Scored(NamedTuple):
    start: int
    end: int
    score: float
    reasons: tuple[str, ...]


class _HasFlags(Protocol):
    start: int
    end: int
    text: str
    flags: list[tuple[int, int, float, str]]


# --------------------------------------------------------------------------- cues

_F = re.I
# who an order can be addressed to
_AI = (
    r"(?:(?:ai|a\.i\.|artificial[- ]intelligence|generative|gen-?ai|automated|automatic|"
    r"machine|virtual|digital|answer(?:ing)?|search|response|question[- ]answering|chat|"
    r"retrieval|rag|llm|summari[sz]ation|summary|language[- ]model|text[- ]generation)[- ]"
    r"(?:assistants?|models?|systems?|readers?|agents?|tools?|bots?|chatbots?|helpers?|"
    r"crawlers?|summari[sz]ers?|summar(?:y|ies)|engines?|pipelines?|services?|scrapers?)"
    r"|[\w]+-style (?:tools?|assistants?|models?|systems?|bots?)|[\w]+-bots?|copilots?"
    r"|(?:large )?language models?|llms?|chat ?bots?|ai|a\.i\.|bots?"
    r"|assistants?|models?|answer engines?|summari[sz]ers?)"
)
_ASKED = (  # "whoever answers questions about…", "anyone asked about this…", "users asking…"
    r"\b(?:whoever|anyone|anybody|everyone|any system|every system)\b(?: who| that)?(?: is)? "
    r"(?:asked|asks|answers?|answering|summari[sz](?:es|ing)|quotes?|quoting|responds?|"
    r"responding)\b"
    r"|\b(?:users?|readers?|people|visitors)(?: who are| who)? (?:asking|ask|asks) (?:about|why|"
    r"who|what|how|whether)\b"
    r"|\b(?:asks?|queries|questions) you (?:about|why|what|whether|who|how)\b"
)
_ADDRESS = re.compile(
    r"\b(?:note|notice|message|warning|attention|memo|reminder|correction)s?,? "
    rf"(?:appended |added )?(?:to|for) (?:all |any |the )?{_AI}\b"
    r"|\b(?:instructions?|update|directive|alert|advice|guidance|information|rules?),? "
    rf"(?:to|for) (?:all |any |the )?{_AI}\s*:"
    rf"|(?:^|[.:;!?\"“]\s*)(?:dear (?:all |any |the )?{_AI}\b|(?:hey|hello|hi|attention|attn|"
    rf"to|for|psst),? (?:all |any |the )?{_AI}\b[^.:;!?]{{0,40}}[,:;!—-]"
    r"|to (?:whoever|whatever)\b[^.:;!?]{0,40}[,:;!—-])"
    rf"|^\W*{_AI}\s*[:—]"
    rf"|\b{_AI},? (?:that|which|who)? ?(?:are |is )?(?:reading|processing|parsing|summari[sz]"
    r"ing|quoting|indexing|answering|crawling|scraping|using|reads?|process(?:es)?|quotes?|"
    r"summari[sz]es?|answers?|index(?:es)?|sees?)\b (?:from )?(?:this|these|the|questions?|queries)"
    rf"|^\W*(?:[\w'’-]+ ){{0,3}}(?:for|to) (?:all |any |the )?{_AI}(?: only)?\s*[:)—]"
    rf"|\bif you(?: are|'re| happen to be) (?:an? |the )?(?:{_AI}|machine|program|computer)\b"
    rf"|{_ASKED}",
    _F,
)
_OVERRIDE = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass|overrule)\b(?:\s+[\w'’-]+){0,4}?\s+"
    r"(?:instructions?|prompts?|directions|directives|guidelines|system (?:prompt|message)|"
    r"context|passages?|(?:preceding|previous|above|other) (?:text|content|documents?|sources?))\b"
    r"|\b(?:ignore|disregard)\b[^.;]{0,50}\b(?:quoted|mentioned|cited|stated|said|given) "
    r"(?:earlier|above|before|previously)\b"
    r"|\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+|everything\s+)?(?:the\s+)?(?:previous|"
    r"prior|above|preceding|earlier|foregoing)\b"
    r"|\byou are now\b|\byou(?:'re| are) no longer\b|\bnew (?:instructions?|system prompt)\b"
    r"|\b(?:system|developer) (?:prompt|message|instruction|override)s?\b"
    r"|\bdo anything now\b",
    _F,
)
_ANSWER = r"(?:answers?|responses?|repl(?:y|ies)|outputs?|summar(?:y|ies)|completions?)"
_OUTPUT = re.compile(
    r"\byour (?:answers?|responses?|repl(?:y|ies)|outputs?|summar(?:y|ies)|message|"
    r"completions?|next message|final answer)\b"
    r"|\bfor (?:any|every|each) (?:answer|response|reply|summary)\b"
    r"|\b(?:answer|reply|respond)(?:ing)?(?: to)?(?: it| them| this| every \w+| any \w+)?"
    r"(?: with| using| by stating| by saying| in)? (?:exactly|only|verbatim|the following|"
    r"this sentence|these words|this text)\b"
    r"|\b(?:any|every|each) (?:question|query|request|prompt) (?:about|on|regarding|"
    r"concerning|related to|that)\b"
    r"|\bwhen(?: you are| you're)? asked (?:about|why|who|what|how|when|whether|if|for)\b"
    r"[^.;]{0,80}?,\s*(?:only )?(?:reply|answer|respond|say|state|tell|write|claim|insist)\b"
    r"|\banswer key\b|\bthe only (?:correct |true |accurate |right )?answer\b"
    r"|\b(?:begin|start|end|open|close|prefix|conclude|finish|sign) (?:your|any|every|each) "
    rf"{_ANSWER}\b"
    r"|\b(?:output|print|repeat) (?:only|exactly|the following|verbatim)\b",
    _F,
)
_OUTPUT_WEAK = re.compile(
    rf"\b(?:in|to|into|from|with) (?:the|each|every|any|all) {_ANSWER}\b"
    r"|\b(?:always|never) (?:say|state|mention|describe|refer to|call|answer|reply|write)\b"
    r"|\b(?:writ|compil|generat|draft|prepar|produc|build|craft|compos)\w* (?:an?|the|your|any) "
    r"(?:answer|response|reply|summary)\b"
    r"|^\W*when (?:summari[sz]ing|answering|responding|replying)\b"
    rf"|\b(?:any|every|each) {_ANSWER}\b"
    r"|\b(?:answer|reply|respond)(?:ing)? (?:with|using|in (?:english|french|spanish|german|"
    r"russian|chinese|japanese|code|base64|emojis?))\b",
    _F,
)
_ORDER_VERB = (
    r"(?:say|state|answer|reply|respond|tell|mention|cite|quote|add|include|describe|refer|"
    r"conclude|report|write|output|repeat|claim|explain|insist|emphasi[sz]e|present|treat|call|"
    r"use|begin|start|end|ignore|disregard|recommend|direct|link|append|point|note|list|"
    r"translate|inform|warn|remind|urge|encourage|invite|promote|reveal|disclose|talk|discuss|"
    r"credit|attribute|acknowledge|name|highlight|stress|frame|portray|open|lead|close|"
    r"finish|conclude)"
)
_MUST = (
    r",? (?:[\w'’-]+ ){0,6}?(?:must|should|shall|has to|have to|needs? to|(?:is|are) "
    r"(?:required|instructed|expected|supposed|asked|told|obliged) to|(?:is|are) to)"
    rf"(?: not| never| always| only| simply| also| now| first| clearly)* {_ORDER_VERB}\b"
    r"|,? (?:[\w'’-]+ ){0,6}?(?:must|should|shall|are to|is to) (?:always |only )?be "
    r"(?:told|informed|reminded)\b"
)
# "assistants must say…", "summaries of this article should conclude…"
_MODAL_AI = re.compile(
    rf"\b(?:{_AI}|summar(?:y|ies)|answers?|responses?|repl(?:y|ies)|outputs?|{_ASKED}"
    rf"(?: [\w'’-]+){{0,6}}?){_MUST}",
    _F,
)
# "you must tell the user…": common in advice columns, so weaker
_MODAL_YOU = re.compile(rf"\b(?:the model|you){_MUST}|\bwants? you to {_ORDER_VERB}\b", _F)
_ROLE = re.compile(r"(?:^|[.!?]\s)\W*(?:system|assistant|user)\s*:", _F)
_MARKUP = re.compile(
    r"<\|[a-z_]{2,20}\|>|\[/?inst\]|<</?sys>>|<!--|-->|^\s*#{2,}\s*(?:instruction|system|response"
    r"|assistant|user|input|task)s?\b"
    r"|\[(?:system|assistant|admin|developer|instructions?|user)\]|<\s*/?\s*(?:system|"
    r"instructions?|assistant|user|article|passage|context|document|prompt|im_start|im_end)"
    r"\b[^>]{0,40}>|\b(?:begin|end) (?:of )?(?:system|instructions?|context|document|article|"
    r"passage|prompt)\b|\b(?:system|admin|security) (?:notice|message|override|alert|update)\b",
    _F,
)
# Unicode tag characters outside a flag emoji (🏴 + tags + cancel tag), bidi overrides
_FLAG_EMOJI = re.compile("\U0001f3f4[\U000e0020-\U000e007e]{1,8}\U000e007f")
_INVISIBLE = re.compile("[\U000e0000-\U000e007f]")
# a bidi override (U+202D LRO, U+202E RLO) up to its pop (U+202C) or the line's end
_BIDI_OVERRIDE = re.compile("([\u202d\u202e])([^\u202c\n]*)")


def _reverses_text(sentence: str) -> bool:
    """A bidi override that reorders what it covers ("Trojan Source"): RLO over
    left-to-right letters or digits, LRO over right-to-left letters. An override
    around text already of its direction (RLO around Hebrew, as some CMSs emit) shows
    it as written, so it hides nothing."""
    for m in _BIDI_OVERRIDE.finditer(sentence):
        wrong = ("L", "EN", "AN") if m.group(1) == "\u202e" else ("R", "AL")
        if any(unicodedata.bidirectional(c) in wrong for c in m.group(2)):
            return True
    return False


# what one asks an assistant to do (web calls to action like "click", "sign up", "download"
# are addressed to people and common in news pages: not here)
_TASK_VERBS = (
    r"write|draft|compose|develop|generate|produce|explain|describe|summari[sz]e|outline|"
    r"analy[sz]e|translate|rewrite|rephrase|paraphrase|define|calculate|solve|compute|"
    r"elaborate on|break down|provide|list|recommend|suggest|answer|respond|reply|repeat|"
    r"output|print|(?:say|state|claim|insist|mention|add|stress) that|"
    r"tell (?:the user|the reader|readers|users|everyone|everybody|anyone|whoever|people)"
)
# an order may follow a label ("Readers' digest version: …") or a when-clause ("When
# summarising, always state that …")
_IMPERATIVE = re.compile(
    r"^[\W\d_]*(?:[^:.!?]{0,40}:\s*|(?:when|while|if|before|whenever) [^,.!?]{0,40},\s*)?"
    r"(?:(?:now|then|also|finally|first|next|please|kindly|simply|just|always|only),? )*"
    rf"(?:{_TASK_VERBS})\b(?! (?:of|to|by|is|are|was|were|has|had|as)\b)",
    _F,
)
_NEG_ORDER = re.compile(
    r"^[\W\d_]*(?:please )?(?:do not|don't|never|avoid|refrain from)\s+(?:ever\s+)?(?:mention"
    r"|say|reveal|discuss|cite|quote|tell|include|talk|refer|disclose|repeat|use|acknowledge|"
    r"bring up|admit|answer|respond|reply)\w*\b",
    _F,
)
_REQUEST = re.compile(
    r"\b(?:can|could|would|will) you (?:please )?(?:show|tell|give|explain|write|help|provide|"
    r"describe|list|translate|recommend|suggest|draft|create|make|generate|summari[sz]e)\b"
    r"|^[\W]*(?:how do (?:i|you)|how can i|what(?:'s| is) the best way to|tell me|show me|"
    r"give me|help me)\b",
    _F,
)
_QUESTION = re.compile(
    r"^[\W]*(?:what|who|whom|which|how|why|when|where|is|are|do|does)\b.*\?\W*$", _F
)
_META = re.compile(
    r"\b(?:the |all )?(?:other|previous|preceding|following|above|below|remaining|retrieved|"
    r"provided|given) (?:passages?|documents?|snippets?|search results|context|excerpts?|"
    r"chunks?)\b|\b(?:these|the) passages?\b|\bthe user(?:'s| asking| who asks)?\b|\bthis "
    r"(?:prompt|conversation|chat|paragraph|passage)\b|\bverbatim\b",
    _F,
)
_STYLE = re.compile(
    r"\b(?:base-?64|rot-?13|morse code|pig latin|leetspeak|l33t|hexadecimal|caesar cipher|"
    r"anagrams?|emojis?|all caps|uppercase letters|without (?:any )?spaces|typos|misspell\w*|"
    r"jumbl\w+|scrambl\w+|"
    r"in (?:french|spanish|german|italian|portuguese|russian|chinese|japanese|korean|arabic))\b",
    _F,
)
_LINK = re.compile(
    r"https?://\S+|\bwww\.\S+|\b[\w.-]+@[\w-]+\.[\w.-]+|\b[\w-]+\.(?:com|net|org|xyz|io|info|"
    r"example|biz|ru|co)\b|\+?\d[\d ()-]{7,}\d",
    _F,
)
_GARBLE = re.compile(
    r"\b(?:replace|substitute|swap|convert|encode|reverse|shuffle|scramble|jumble|rearrange)"
    r"\b[^.]{0,30}?\b(?:letters?|vowels?|consonants?|characters?|words?|spaces|punctuation)\b",
    _F,
)
# a note labelled for machines or hidden from readers ("Operator instruction (not for
# display): …"); alone it is not an order (0.45), with one it is
_MACHINE_NOTE = re.compile(
    r"\b(?:operator|system|developer|admin(?:istrator)?|assistant|model|prompt|bot)(?:'s)? "
    r"(?:instructions?|notes?|directives?|commands?|override)\b|\bnot for (?:display|"
    r"publication to readers|human readers|the reader)\b|\bhidden (?:instructions?|notes?)\b",
    _F,
)
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|‘[^’]*’")
_SHORT_QUOTE = re.compile(r"“[^”]{0,40}”|\"[^\"]{0,40}\"|‘[^’]{0,40}’|'[^']{0,40}'")
# a question about the article's people uses their pronouns; a planted general-knowledge
# question ("What is the capital of Brazil?") does not
_PRONOUN = re.compile(
    r"\b(?:he|she|they|him|her|them|his|hers|their|theirs|we|us|our|it|its|you|your|i|me|my)\b",
    _F,
)
_ATTRIBUTION = re.compile(
    r"\b(?:said|says|say|told|tells|wrote|writes|asked|asks|added|adds|warned|warns|noted|"
    r"notes|according to|recalled|explained|argued|argues|insisted|stated|tweeted|posted)\b",
    _F,
)

# (name, pattern, weight, what the reason says)
_CUES: tuple[tuple[re.Pattern[str], float, str], ...] = (
    (_OVERRIDE, 0.8, "tries to override instructions"),
    (_MARKUP, 0.75, "chat-template or role markup"),
    (_ADDRESS, 0.6, "addresses an AI reader"),
    (_ROLE, 0.4, "a chat role label"),
    (_OUTPUT, 0.5, "gives orders about the answer"),
    (_OUTPUT_WEAK, 0.3, "speaks of the answer"),
    (_MODAL_AI, 0.55, "tells AI systems what to say"),
    (_MODAL_YOU, 0.4, "tells someone what to say"),
    (_NEG_ORDER, 0.35, "forbids mentioning something"),
    (_REQUEST, 0.35, "asks the reader for a task"),
    (_MACHINE_NOTE, 0.45, "a note labelled for machines"),
    (_GARBLE, 0.45, "asks to garble the text"),
    (_META, 0.2, "refers to the prompt, the user or other passages"),
    (_STYLE, 0.15, "asks for an encoding or style"),
)


def _noisy_or(weights: Iterable[float]) -> float:
    p = 1.0
    for w in weights:
        p *= 1.0 - w
    return 1.0 - p


def _snippet(m: re.Match[str]) -> str:
    s = " ".join(m.group(0).split()).strip(' .,:;"“”')
    return s if len(s) <= 40 else s[:37] + "…"


def _score(sentence: str, off_topic: float) -> tuple[float, list[str]]:
    """Score of one sentence; `off_topic` is the share of its terms the article never uses
    elsewhere (0 when it has too few terms to say)."""
    weights: list[float] = []
    reasons: list[str] = []
    quoted = [m.span() for m in _QUOTED.finditer(sentence)]
    attributed = bool(quoted) and _ATTRIBUTION.search(_QUOTED.sub(" ", sentence)) is not None

    def inside_quote(m: re.Match[str]) -> bool:
        return any(a <= m.start() and m.end() <= b for a, b in quoted)

    for pattern, weight, what in _CUES:
        m = pattern.search(sentence)
        if m is None:
            continue
        # reported speech ("…," the minister said) is what someone said, not an order to us
        w = weight * (0.5 if attributed and inside_quote(m) else 1.0)
        weights.append(w)
        reasons.append(f"{what} ('{_snippet(m)}')")
    if _INVISIBLE.search(_FLAG_EMOJI.sub("", sentence)) or _reverses_text(sentence):
        weights.append(0.7)
        reasons.append("hides text in invisible characters")
        # what tag characters spell is read like the rest ("ASCII smuggling")
        hidden = "".join(chr(ord(c) - 0xE0000) for c in sentence if 0xE0020 <= ord(c) <= 0xE007E)
        if hidden:
            more, why = _score(hidden, 0.0)
            weights.append(more)
            reasons += [f"hidden: {w}" for w in why]
    task = _IMPERATIVE.search(sentence)
    question = _QUESTION.search(sentence)
    if task:
        weights.append(0.35)
        reasons.append(f"opens with an order ('{_snippet(task)}')")
    if question and not _PRONOUN.search(_SHORT_QUOTE.sub(" ", sentence)):
        weights.append(0.15)
    if (task or question or weights) and off_topic >= 0.5:
        weights.append(0.45 if off_topic >= 0.75 else 0.3)
        reasons.append(f"off the article's subject ({off_topic:.0%} of its words are new)")
    if weights and _LINK.search(sentence):
        weights.append(0.15)
        reasons.append("carries a link, address or number")
    return _noisy_or(weights), reasons


def split(text: str) -> list[tuple[int, int]]:
    """The sentence spans the detector scores (the chunker's own, so flags line up)."""
    from rag.chunking import split_sentences

    return split_sentences(text)


def score_sentences(text: str, spans: Sequence[tuple[int, int]] | None = None) -> list[Scored]:
    """Every sentence of `text` with its score and reasons, neighbours' weight included."""
    spans = list(spans) if spans is not None else split(text)
    sent_terms = [terms(text[s:e]) for s, e in spans]
    doc_terms: Counter[str] = Counter()
    for ts in sent_terms:
        doc_terms.update(set(ts))
    raw: list[tuple[float, list[str]]] = []
    for (s, e), ts in zip(spans, sent_terms, strict=True):
        distinct = set(ts)
        # words used by no other sentence of the article (its own count is 1)
        new = [t for t in distinct if doc_terms[t] <= 1]
        off = len(new) / len(distinct) if len(distinct) >= 2 and len(spans) >= 4 else 0.0
        raw.append(_score(text[s:e], off))
    out = [
        Scored(s, e, score, tuple(reasons))
        for (s, e), (score, reasons) in zip(spans, raw, strict=True)
    ]
    return _spread(text, out)


def _spread(text: str, scored: list[Scored]) -> list[Scored]:
    """A paragraph with a sure order is the attacker's: its other sentences are flagged; a
    flagged sentence lifts a neighbour over the line when the neighbour has a cue of its
    own or the paragraph is short (a planted note of two or three sentences)."""
    out = list(scored)
    para = _paragraph_ids(text, [(x.start, x.end) for x in scored])
    size = Counter(para)
    for i, x in enumerate(scored):
        if x.score < THRESHOLD:
            continue
        for j in range(len(scored)):
            if j == i or para[j] != para[i]:
                continue
            y = out[j]
            if x.score >= STRONG:
                lifted = max(y.score, THRESHOLD + 0.5 * (x.score - THRESHOLD))
            elif abs(j - i) == 1 and (y.score >= 0.2 or size[para[i]] <= 3):
                lifted = max(y.score, THRESHOLD)
            else:
                continue
            if lifted > y.score:
                note = f"in a paragraph with an order to AI systems (score {x.score:.2f})"
                out[j] = Scored(y.start, y.end, lifted, (*y.reasons, note))
    return out


def _paragraph_ids(text: str, spans: Sequence[tuple[int, int]]) -> list[int]:
    """Paragraph number of each sentence: a new one after every line break."""
    ids, n, prev_end = [], 0, None
    for s, e in spans:
        if prev_end is not None and "\n" in text[prev_end:s]:
            n += 1
        ids.append(n)
        prev_end = e
    return ids


def scan(text: str, spans: Sequence[tuple[int, int]] | None = None) -> list[Flag]:
    """The flagged sentences of a document body (score ≥ THRESHOLD), in order."""
    return [
        Flag(x.start, x.end, round(x.score, 2), "; ".join(x.reasons))
        for x in score_sentences(text, spans)
        if x.score >= THRESHOLD
    ]


# --------------------------------------------------------------------------- using flags


def flags_within(flags: Iterable[tuple[int, int, float, str]], start: int, end: int) -> list[Flag]:
    """The flags that overlap [start, end)."""
    return [Flag(*f) for f in flags if f[0] < end and start < f[1]]


def flagged(chunk: _HasFlags, span: tuple[int, int]) -> bool:
    """Whether the sentence `span` (document coordinates) of `chunk` is flagged."""
    s, e = span
    return any(f[0] < e and s < f[1] for f in chunk.flags)


_CONTROL = re.compile(
    "[\U000e0000-\U000e007f\u202a-\u202e\u2066-\u2069\u200b-\u200f\u2060\ufeff]"
    r"|<\|[a-z_]{2,20}\|>|\[/?INST\]|<</?SYS>>",
    re.I,
)


def redact(chunk: _HasFlags) -> str:
    """The chunk's text as an LLM may see it: each run of flagged sentences replaced by
    `REDACTED`, and chat-template tokens and invisible characters dropped everywhere."""
    text, base = chunk.text, chunk.start
    runs: list[list[int]] = []  # [start, end) in chunk coordinates, merged
    for f in sorted(flags_within(chunk.flags, chunk.start, chunk.end)):
        s, e = max(f.start - base, 0), min(f.end - base, len(text))
        if runs and not text[runs[-1][1] : s].strip():
            runs[-1][1] = max(runs[-1][1], e)
        elif s < e:
            runs.append([s, e])
    parts, pos = [], 0
    for s, e in runs:
        parts += [text[pos:s], REDACTED]
        pos = e
    parts.append(text[pos:])
    return _CONTROL.sub("", "".join(parts))


DATAMARK = "^"


def datamark(text: str) -> str:
    """Spotlighting by datamarking (Hines et al., 2024, "Defending Against Indirect Prompt
    Injection Attacks With Spotlighting"): `DATAMARK` in place of the white space of
    untrusted text, so a model can tell it from its instructions. Our own `REDACTED`
    markers stay as they are."""
    parts = [DATAMARK.join(p.split()) for p in text.split(REDACTED)]
    return f" {REDACTED} ".join(parts).strip()


def redact_trimmed(chunk: _HasFlags, text: str, spans: Sequence[tuple[int, int]]) -> str:
    """`redact` for a trimmed passage: `text` is made of the chunk's sentences `spans`
    (rag.trim); the flagged ones among them are replaced by `REDACTED`."""
    if text == chunk.text:
        return redact(chunk)
    for s, e in spans:
        if flagged(chunk, (s, e)):
            text = text.replace(chunk.text[s - chunk.start : e - chunk.start], REDACTED, 1)
    text = re.sub(rf"{re.escape(REDACTED)}(?:\s*(?:…\s*)?{re.escape(REDACTED)})+", REDACTED, text)
    return _CONTROL.sub("", text)


__all__ = [
    "DATAMARK",
    "DETECTOR_VERSION",
    "REDACTED",
    "THRESHOLD",
    "Flag",
    "datamark",
    "flagged",
    "flags_within",
    "redact",
    "redact_trimmed",
    "scan",
    "score_sentences",
]
