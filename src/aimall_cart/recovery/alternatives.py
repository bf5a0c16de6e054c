"""Alternatives for unavailable or short lines: in-stock products of the same category in a nearby
price band, ranked by TF-IDF similarity of name, category and description."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer  # type: ignore[import-untyped]
from sklearn.preprocessing import normalize  # type: ignore[import-untyped]

DEFAULT_LIMIT = 3
DEFAULT_PRICE_BAND = 0.4  # fraction of the missing line's unit price, either way
_HASHED_FEATURES = 2**18


@dataclass(frozen=True, slots=True)
class Alternative:
    product_id: str
    variant_id: str
    name: str
    unit_price: int  # net of the variant's own discount
    score: float


@dataclass(frozen=True, slots=True)
class Document:
    """A product's text; ``stamp`` is its ``updated_at``, so a new stamp means new text."""

    product_id: str
    stamp: datetime
    text: str

    @classmethod
    def of(
        cls,
        product_id: str,
        *,
        name: str,
        category: str | None,
        description: str,
        stamp: datetime,
    ) -> Document:
        return cls(product_id, stamp, " ".join((name, category or "", description)))


@dataclass(frozen=True, slots=True)
class _Row:
    stamp: datetime
    terms: npt.NDArray[np.int64]  # hashed term ids, distinct
    weights: npt.NDArray[np.float64]  # sublinear tf: 1 + ln(count)


class TextIndex:
    """TF-IDF over product documents, kept up to date one document at a time.

    Term ids come from a stateless hashing vectoriser, so adding or changing a document never
    touches the others: only its own row is tokenised and its terms move the document
    frequencies. IDF is taken at query time (smooth: ln((1 + n) / (1 + df)) + 1), so it always
    reflects every document indexed so far. Meant to live for the whole process; it is not
    thread-safe, and nothing in it awaits, so one event loop may share it.
    """

    def __init__(self) -> None:
        self._vectoriser = HashingVectorizer(
            n_features=_HASHED_FEATURES, alternate_sign=False, norm=None, dtype=np.float64
        )
        self._rows: dict[str, _Row] = {}
        self._df = np.zeros(_HASHED_FEATURES, dtype=np.int64)
        self.tokenised = 0  # documents tokenised over the index's life

    @property
    def document_frequencies(self) -> npt.NDArray[np.int64]:
        return self._df.copy()

    def refresh(self, documents: Iterable[Document]) -> None:
        """Index new documents and re-index those whose stamp changed; others cost a lookup."""
        stale: dict[str, Document] = {}
        for document in documents:
            row = self._rows.get(document.product_id)
            if row is None or row.stamp != document.stamp:
                stale[document.product_id] = document
        if not stale:
            return
        counts = sparse.csr_matrix(self._vectoriser.transform([d.text for d in stale.values()]))
        self.tokenised += len(stale)
        for position, document in enumerate(stale.values()):
            start, end = counts.indptr[position], counts.indptr[position + 1]
            row = _Row(
                document.stamp,
                counts.indices[start:end].astype(np.int64),
                1.0 + np.log(counts.data[start:end]),
            )
            if (old := self._rows.get(document.product_id)) is not None:
                self._df[old.terms] -= 1
            self._df[row.terms] += 1
            self._rows[document.product_id] = row

    def similarity(self, product_id: str, others: Sequence[str]) -> list[float]:
        """Cosine similarity of the product's document to each of ``others``, in their order.

        Every id must have been refreshed into the index (KeyError otherwise)."""
        if not others:
            return []
        vectors = self._tfidf([product_id, *others])
        return [float(x) for x in (vectors[1:] @ vectors[0].T).toarray().ravel()]

    def _tfidf(self, product_ids: Sequence[str]) -> sparse.csr_matrix:
        """The l2-normalised tf-idf rows of the products, one per id."""
        rows = [self._rows[product_id] for product_id in product_ids]
        terms = np.concatenate([row.terms for row in rows])
        idf = np.log((1.0 + len(self._rows)) / (1.0 + self._df[terms])) + 1.0
        values = np.concatenate([row.weights for row in rows]) * idf
        offsets = np.cumsum([0, *(len(row.terms) for row in rows)])
        matrix = sparse.csr_matrix((values, terms, offsets), shape=(len(rows), self._df.shape[0]))
        return sparse.csr_matrix(normalize(matrix))


@dataclass(frozen=True, slots=True)
class Candidate:
    product_id: str
    variant_id: str
    name: str
    category: str | None
    unit_price: int  # net of the variant's own discount


def rank(
    missing: Candidate,
    candidates: Iterable[Candidate],
    index: TextIndex,
    *,
    limit: int = DEFAULT_LIMIT,
    price_band: float = DEFAULT_PRICE_BAND,
) -> list[Alternative]:
    """The best few stand-ins for ``missing``: same category (an uncategorised product has no
    peers), another product, a unit price within ``price_band`` of the missing one; most similar
    first, then closest in price, then by product id. One variant per product, the closest in
    price. Both the missing product and the candidates must be in ``index``."""
    if missing.category is None:
        return []
    eligible = [
        c
        for c in candidates
        if c.category == missing.category
        and c.product_id != missing.product_id
        and abs(c.unit_price - missing.unit_price) <= missing.unit_price * price_band
    ]
    scores = dict(
        zip(
            (c.product_id for c in eligible),
            index.similarity(missing.product_id, [c.product_id for c in eligible]),
            strict=True,
        )
    )
    ordered = sorted(
        eligible,
        key=lambda c: (
            -scores[c.product_id],
            abs(c.unit_price - missing.unit_price),
            c.product_id,
            c.variant_id,
        ),
    )
    chosen: dict[str, Alternative] = {}
    for c in ordered:
        if len(chosen) == limit:
            break
        if c.product_id not in chosen:
            chosen[c.product_id] = Alternative(
                c.product_id, c.variant_id, c.name, c.unit_price, scores[c.product_id]
            )
    return list(chosen.values())
