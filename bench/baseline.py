"""The baseline every NLU figure is compared with: TF-IDF (word 1-2 + char_wb 2-5 grams) + logistic regression."""

from __future__ import annotations

import time
from typing import List, Sequence, Tuple

from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression


def tfidf_logreg(
    train_texts: Sequence[str], train_intents: Sequence[str], test_texts: Sequence[str]
) -> Tuple[List[str], float]:
    """Predictions for test_texts and the training wall time in seconds."""
    start = time.perf_counter()
    word = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, lowercase=True)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True, min_df=2)
    x_train = hstack([word.fit_transform(train_texts), char.fit_transform(train_texts)]).tocsr()
    model = LogisticRegression(C=10.0, max_iter=2000)
    model.fit(x_train, list(train_intents))
    seconds = time.perf_counter() - start
    x_test = hstack([word.transform(test_texts), char.transform(test_texts)]).tocsr()
    return list(model.predict(x_test)), seconds
