"""Ranking stand-ins for missing lines, and the incremental TF-IDF index behind it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from aimall_cart.recovery.alternatives import Candidate, Document, TextIndex, rank

T0 = datetime(2025, 1, 1, tzinfo=UTC)
MISSING = Candidate("trail-red", "trail-red-42", "Trail running shoe, red", "shoes", 10_000)


def _index(texts: dict[str, str], stamp: datetime = T0) -> TextIndex:
    index = TextIndex()
    index.refresh(Document(product_id, stamp, text) for product_id, text in texts.items())
    return index


def _shoe(product_id: str, price: int = 10_000, category: str = "shoes") -> Candidate:
    return Candidate(product_id, f"{product_id}-v", product_id, category, price)


def test_rank_puts_the_more_similar_text_first() -> None:
    index = _index(
        {
            "trail-red": "Trail running shoe, red",
            "trail-blue": "Trail running shoe, blue",
            "office": "Leather office shoe",
        }
    )
    ranked = rank(MISSING, [_shoe("office"), _shoe("trail-blue")], index)
    assert [a.product_id for a in ranked] == ["trail-blue", "office"]
    assert ranked[0].score > ranked[1].score > 0
    assert ranked[0].score == pytest.approx(index.similarity("trail-red", ["trail-blue"])[0])


@pytest.mark.parametrize(
    ("price", "kept"),
    [(5_999, False), (6_000, True), (14_000, True), (14_001, False)],
)
def test_rank_keeps_only_prices_within_the_band(price: int, kept: bool) -> None:
    index = _index({"trail-red": "Trail running shoe, red", "other": "Trail running shoe"})
    ranked = rank(MISSING, [_shoe("other", price)], index, price_band=0.4)
    assert [a.unit_price for a in ranked] == ([price] if kept else [])


def test_rank_keeps_only_the_missing_products_category() -> None:
    index = _index({"trail-red": "Trail running shoe, red", "twin": "Trail running shoe, red"})
    assert rank(MISSING, [_shoe("twin", category="outdoor")], index) == []


def test_rank_never_offers_any_variant_of_the_missing_product() -> None:
    index = _index({"trail-red": "Trail running shoe, red", "office": "Leather office shoe"})
    same = [Candidate("trail-red", f"trail-red-{size}", "x", "shoes", 10_000) for size in (41, 43)]
    ranked = rank(MISSING, [*same, _shoe("office")], index)
    assert [a.product_id for a in ranked] == ["office"]


def test_rank_breaks_ties_by_price_closeness_then_product_id_whatever_the_input_order() -> None:
    twins = dict.fromkeys(("a", "b", "c", "d"), "Trail running shoe")
    index = _index({"trail-red": "Trail running shoe, red", **twins})
    candidates = [_shoe("d", 10_000), _shoe("c", 10_500), _shoe("b", 10_000), _shoe("a", 9_000)]
    expected = ["b", "d", "c"]
    assert [a.product_id for a in rank(MISSING, candidates, index)] == expected
    assert [a.product_id for a in rank(MISSING, candidates[::-1], index)] == expected


def test_rank_offers_one_variant_per_product_the_closest_in_price() -> None:
    index = _index({"trail-red": "Trail running shoe, red", "trail-blue": "Trail running shoe"})
    sizes = [Candidate("trail-blue", f"blue-{p}", "Blue", "shoes", p) for p in (8_000, 9_900)]
    ranked = rank(MISSING, sizes, index)
    assert [(a.variant_id, a.unit_price) for a in ranked] == [("blue-9900", 9_900)]


def test_rank_answers_at_most_the_limit() -> None:
    index = _index({"trail-red": "shoe", **{f"p{n}": "shoe" for n in range(5)}})
    assert len(rank(MISSING, [_shoe(f"p{n}") for n in range(5)], index, limit=2)) == 2


def test_rank_finds_no_peers_for_an_uncategorised_product() -> None:
    index = _index({"loose": "Trail running shoe", "twin": "Trail running shoe"})
    loose = Candidate("loose", "loose-v", "Loose", None, 10_000)
    assert rank(loose, [Candidate("twin", "twin-v", "Twin", None, 10_000)], index) == []


def test_index_tokenises_only_new_or_changed_documents() -> None:
    index = _index({"a": "Trail running shoe, red", "b": "Trail running shoe, blue"})
    assert index.tokenised == 2
    index.refresh([Document("a", T0, "Trail running shoe, red"), Document("c", T0, "Sock")])
    assert index.tokenised == 3
    index.refresh([Document("a", T0, "whatever the text"), Document("b", T0, "is not read")])
    assert index.tokenised == 3
    index.refresh([Document("b", T0 + timedelta(seconds=1), "Leather office shoe")])
    assert index.tokenised == 4


def test_a_changed_document_changes_its_similarity() -> None:
    index = _index({"a": "Trail running shoe, red", "b": "Trail running shoe, blue", "c": "Sock"})
    before = index.similarity("a", ["b"])[0]
    index.refresh([Document("b", T0 + timedelta(hours=1), "Leather office shoe")])
    assert index.similarity("a", ["b"])[0] < before
    assert index.similarity("b", ["b"]) == [pytest.approx(1.0)]


def test_similarity_matches_a_sublinear_smooth_tfidf_fitted_from_scratch() -> None:
    texts = {
        "a": "Trail running shoe, red red red",
        "b": "Trail running shoe, blue",
        "c": "Leather office shoe",
        "d": "Wool sock, red",
        "e": "",
    }
    matrix = TfidfVectorizer(sublinear_tf=True).fit_transform(list(texts.values()))
    expected = (matrix[1:] @ matrix[0].T).toarray().ravel()
    assert _index(texts).similarity("a", ["b", "c", "d", "e"]) == pytest.approx(list(expected))


def test_document_frequencies_after_updates_equal_those_of_a_fresh_index() -> None:
    index = _index({"a": "red shoe", "b": "blue shoe", "c": "red sock"})
    later, latest = T0 + timedelta(minutes=5), T0 + timedelta(minutes=10)
    index.refresh([Document("a", later, "green boot"), Document("d", later, "blue sock sock")])
    index.refresh([Document("c", later, "red shoe"), Document("a", latest, "red")])
    final = {"a": "red", "b": "blue shoe", "c": "red shoe", "d": "blue sock sock"}
    fresh = _index(final)
    assert np.array_equal(index.document_frequencies, fresh.document_frequencies)
    for product_id in final:
        others = sorted(final)
        assert index.similarity(product_id, others) == fresh.similarity(product_id, others)
