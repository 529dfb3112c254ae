"""Wire copies: exact and near-duplicate articles are searched once and named as copies."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from rag import api
from rag.cli import main
from rag.ingest.dedup import Member, Role, cluster
from rag.store import open_index

from .conftest import settings_for, write

WIRE = [
    "The port authority of Arden said on Monday that the new container terminal will open "
    "in March 2027, two years later than planned, because of a shortage of steel and a "
    "dispute with the dredging contractor.",
    "Officials said the terminal would double the port's capacity and create about 1,200 "
    "jobs. The regional government has pledged 300 million euros to the project.",
    "Shipping companies welcomed the decision to go ahead but said the delay would push some "
    "traffic to rival ports in the north for at least another season.",
    "The contractor, Baltic Dredging, said in a statement that it had met every deadline in "
    "its contract and that the steel shortage was the main cause of the delay.",
    "Environmental groups have asked the authority to publish the dredging plans, saying "
    "the work could harm the bird reserve at the mouth of the river.",
]
OTHER = [
    "The city council of Arden voted to close the old ferry terminal at the end of the year "
    "after engineers found cracks in its concrete piers.",
    "Passengers will use a temporary pier north of the harbour until a new terminal opens.",
]


def article(title: str, source: str, date: str, paras: list[str], url: str = "") -> str:
    front = f'---\ntitle: "{title}"\nsource: {source}\npublished_at: {date}\n'
    front += f"url: {url}\n" if url else ""
    return front + "---\n\n" + "\n\n".join(paras) + "\n"


def wire_folder(root: Path) -> Path:
    """The agency's copy as three outlets printed it, plus an exact copy and another story."""
    write(root / "agency.md", article("Arden terminal delayed", "Wire Agency", "2026-03-02", WIRE,
                                      "https://wire.example/arden"))  # fmt: skip
    local = ["ARDEN — Residents of the harbour district were told of the delay at a meeting "
             "in the town hall on Monday evening.", *WIRE]  # fmt: skip
    title = "Port of Arden: terminal two years late"
    write(root / "metro.md", article(title, "Metro Daily", "2026-03-03", local,
                                     "https://metro.example/port"))  # fmt: skip
    edited = [p.replace("said on Monday", "announced on Monday") for p in WIRE[:4]]
    write(root / "coast.md", article("Steel shortage delays Arden terminal", "Coast Herald",
                                     "2026-03-04", edited, "https://coast.example/t"))  # fmt: skip
    write(root / "zz" / "agency.md", (root / "agency.md").read_text())
    write(root / "ferry.md", article("Arden closes ferry terminal", "Metro Daily", "2026-03-05",
                                     OTHER))  # fmt: skip
    return root


def test_cluster_finds_wire_copies_whatever_the_order() -> None:
    docs = [
        Member("agency", "\n\n".join(WIRE), "2026-03-02"),
        Member("local", "\n\n".join(["A local paragraph about the harbour district.", *WIRE])),
        Member("trimmed", "\n\n".join(WIRE[:4])),
        Member("exact", "\n\n".join(WIRE).upper()),  # case and spacing do not matter
        Member("other", "\n\n".join(OTHER)),
        Member("brief", WIRE[0]),  # a brief quoting one paragraph is not a reprint
    ]
    roles = cluster(docs, 0.85)
    rep = "local"  # the copy with the most text represents the others
    assert {k: (r.of, r.kind, r.same_as) for k, r in roles.items()} == {
        "agency": (rep, "near", None),
        "trimmed": (rep, "near", None),
        "exact": (rep, "exact", "agency"),  # agency's body: agency's representative
    }
    for seed in range(5):
        shuffled = docs[:]
        random.Random(seed).shuffle(shuffled)
        assert cluster(shuffled, 0.85) == roles
    assert cluster(docs, 1.01) == {"exact": Role("agency", "exact", 1.0)}


def test_copies_are_searched_once_and_named_in_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = wire_folder(tmp_path / "in")
    code, out, err = _cli(capsys, "ingest", str(corpus), "-q")
    assert code == 0, err
    assert out.startswith("5 added, 0 updated")
    assert "/agency.md is an exact copy of " in err and "stored once, searched as " in err
    assert "coast.md is a near-duplicate of" in err and "also published by" in err
    idx = open_index(tmp_path / "index")
    rows = {r["id"]: r["chunks"] for r in idx.doc_rows()}
    assert len(rows) == 5  # every copy is kept ...
    assert sum(1 for k in ("agency", "zz-agency", "metro", "coast") if rows[k]) == 1  # ...
    assert rows["metro"] and rows["ferry"]  # the longest copy is searched, and the other story

    code, out, _ = _cli(capsys, "ask", "When will the Arden container terminal open?", "--json")
    d = json.loads(out)
    docs = {h["doc_id"] for h in d["hits"]}
    assert len(docs & {"agency", "zz-agency", "metro", "coast"}) == 1, d["hits"]
    cite = next(c for c in d["citations"] if c["doc_id"] == "metro")
    assert [(x["id"], x["source"]) for x in cite["also_published_by"]] == [
        ("agency", "Wire Agency"),  # earliest first, then by id
        ("zz-agency", "Wire Agency"),
        ("coast", "Coast Herald"),
    ]
    assert cite["also_published_by"][-1]["url"] == "https://coast.example/t"
    code, out, _ = _cli(capsys, "ask", "When will the Arden container terminal open?")
    assert "also reported by Wire Agency (2026-03-02), Wire Agency (2026-03-02) and Coast " in out


def test_copies_follow_changes_and_removals(tmp_path: Path, encoder: Any) -> None:
    corpus = wire_folder(tmp_path / "in")
    s = settings_for(tmp_path / "ix")
    api.ingest([corpus], s, encoder=encoder)
    # the searched copy's file goes: with --prune, another copy becomes the searched one
    (corpus / "metro.md").unlink()
    r = api.ingest([corpus], s, encoder=encoder, prune=True)
    assert r.removed == ["metro"] and r.chunks_embedded > 0
    idx = open_index(tmp_path / "ix")
    docs = idx.docs()
    searched = [k for k in ("agency", "zz-agency", "coast") if idx.chunks_of(k)]
    assert searched == ["agency"] or searched == ["zz-agency"]
    assert docs["coast"].extra["duplicate_of"] == searched[0]
    # a re-run with nothing changed embeds nothing
    r = api.ingest([corpus], s, encoder=encoder)
    assert r.chunks_embedded == 0 and not r.added and not r.updated


def test_the_threshold_is_a_setting(tmp_path: Path, encoder: Any) -> None:
    corpus = wire_folder(tmp_path / "in")
    s = settings_for(tmp_path / "ix", ingest={"near_duplicates": 1.01})  # exact copies only
    api.ingest([corpus], s, encoder=encoder)
    idx = open_index(tmp_path / "ix")
    searched = {r["id"] for r in idx.doc_rows() if r["chunks"]}
    assert searched == {"agency", "metro", "coast", "ferry"}  # only the exact copy folded
    # a new threshold applies at the next ingest, without re-embedding what stays searched
    s = settings_for(tmp_path / "ix", ingest={"near_duplicates": 0.85})
    r = api.ingest([corpus], s, encoder=encoder)
    assert r.chunks_embedded == 0
    idx = open_index(tmp_path / "ix")
    assert {r["id"] for r in idx.doc_rows() if r["chunks"]} == {"metro", "ferry"}


def test_the_multihop_corpus_is_almost_all_distinct() -> None:
    from .conftest import MULTIHOP

    records = json.loads((MULTIHOP / "corpus.json").read_text(encoding="utf-8"))
    docs = [Member(str(i), r["body"], r.get("published_at")) for i, r in enumerate(records)]
    assert len(cluster(docs, 0.85)) == 0  # the default clusters none of the 609
    assert len(cluster(docs, 0.8)) == 1  # one Engadget deals article updated for a new sale


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
