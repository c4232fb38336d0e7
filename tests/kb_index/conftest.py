"""Test setup shared by this directory's tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

# `pytest tests/<dir>` does not put the repository root on sys.path: these directories have no __init__.py, on
# purpose (were tests/__init__.py ever removed, tests/zabota/__init__.py would make this directory the package
# `zabota`). The Makefile exports PYTHONPATH, a bare run does not; `pythonpath = ["."]` in pyproject.toml would
# make this redundant.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kb_index.build import build_index
from kb_index.embedders import HashingFakeEmbedder, create_embedder
from kb_index.index import load_current
from kb_index.search import Retriever

# A tiny knowledge base: the same three articles in English and in Russian (relative path -> file text).
EN_ARTICLES = {
    "en/router-reboot.md": """---
id: router-reboot
lang: en
title: Internet is down
url: https://zabota.example/help/en/router-reboot
tags: [router, internet]
---
If the internet stopped working at home, start with the router.

## Restart the router
Unplug the router from the socket for 30 seconds, plug it back in and wait three minutes.

## Check the cable
Make sure the provider's cable sits firmly in the WAN port of the router.
""",
    "en/roaming.md": """---
id: roaming
lang: en
title: Roaming abroad
url: https://zabota.example/help/en/roaming
---
## Turn roaming on
Roaming is switched on in the Zabota app before the trip.

## Roaming prices
A day of mobile internet in Turkey costs 300 roubles.
""",
    "en/payment-not-credited.md": """---
id: payment-not-credited
lang: en
title: Payment not credited
url: https://zabota.example/help/en/payment-not-credited
---
## When a payment arrives
A card payment reaches the balance within 15 minutes; a bank transfer takes up to three days.

## If the money is still missing
Send the receipt to the chat and we will find the payment.
""",
}

RU_ARTICLES = {
    "ru/router-reboot.md": """---
id: router-reboot
lang: ru
title: Не работает интернет
url: https://zabota.example/help/ru/router-reboot
tags: [роутер, интернет]
---
Если дома пропал интернет, начните с роутера.

## Перезагрузка роутера
Выключите роутер из розетки на 30 секунд, включите снова и подождите три минуты.

## Проверка кабеля
Проверьте, что кабель провайдера плотно вставлен в порт WAN.
""",
    "ru/roaming.md": """---
id: roaming
lang: ru
title: Роуминг за границей
url: https://zabota.example/help/ru/roaming
---
## Подключение роуминга
Роуминг включается в приложении Забота перед поездкой.

## Цены в роуминге
День мобильного интернета в Турции стоит 300 рублей.
""",
    "ru/payment-not-credited.md": """---
id: payment-not-credited
lang: ru
title: Платёж не зачислен
url: https://zabota.example/help/ru/payment-not-credited
---
## Когда приходит платёж
Оплата картой поступает на баланс за 15 минут, банковский перевод — до трёх дней.

## Если денег всё нет
Пришлите чек в чат, и мы найдём платёж.
""",
}

FAQ_CSV = """id,question,answer,lang,url
pay-methods,How can I pay my bill?,Pay by card in the Zabota app or at any bank.,en,https://zabota.example/faq/pay
sim-lost,Я потерял сим-карту,Заблокируйте сим-карту в приложении и получите новую в офисе.,ru,
pay-methods,What payment methods are there?,,en,
"""


def _write_files(directory: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def embedder() -> HashingFakeEmbedder:
    fake = create_embedder("fake:64")
    assert isinstance(fake, HashingFakeEmbedder)
    return fake


@pytest.fixture
def articles_dir(tmp_path: Path) -> Path:
    """Three articles, each in English and Russian."""
    return _write_files(tmp_path / "articles", EN_ARTICLES | RU_ARTICLES)


@pytest.fixture
def ru_articles_dir(tmp_path: Path) -> Path:
    """The Russian articles only."""
    return _write_files(tmp_path / "articles-ru", RU_ARTICLES)


@pytest.fixture
def faq_csv(tmp_path: Path) -> Path:
    path = tmp_path / "faq.csv"
    path.write_text(FAQ_CSV, encoding="utf-8")
    return path


@pytest.fixture
def index_dir(tmp_path: Path, articles_dir: Path, embedder: HashingFakeEmbedder) -> Path:
    """An index of ``articles_dir`` built with the fake embedder."""
    directory = tmp_path / "index"
    build_index(articles_dir, directory, embedder, progress=False)
    return directory


@pytest.fixture(scope="session")
def retriever(tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    """A retriever over ``articles_dir``'s articles, built once: searching changes nothing, so tests share it."""
    root = tmp_path_factory.mktemp("shared-index")
    fake = create_embedder("fake:64")
    build_index(_write_files(root / "articles", EN_ARTICLES | RU_ARTICLES), root / "index", fake, progress=False)
    return Retriever(load_current(root / "index", fake.name, fake.dim), fake)


@pytest.fixture
def restore_structlog() -> Iterator[None]:
    """The command line configures structlog for the whole process: put the previous configuration back."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


# A way of asking of the Russian roaming article, in transliteration (detected as English), and an article that
# exists in Russian only.
TRANSLITERATED_QUESTION = "skolko stoit rouming v turcii na nedelyu"
RU_ONLY_ARTICLE = """---
id: ru-only-tv
lang: ru
title: Телевидение на даче
---
## Как смотреть телевидение на даче
Телевидение Забота на даче смотрят в приложении через мобильный интернет.
"""


@pytest.fixture(scope="session")
def asked(tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    """A retriever over ``articles_dir``'s articles plus RU_ONLY_ARTICLE, the Russian roaming article with ways of
    asking (kb/questions beside the articles) that include TRANSLITERATED_QUESTION."""
    root = tmp_path_factory.mktemp("asked")
    _write_files(root / "articles", EN_ARTICLES | RU_ARTICLES | {"ru/ru-only-tv.md": RU_ONLY_ARTICLE})
    _write_files(root / "questions", {"ru/roaming.txt": f"{TRANSLITERATED_QUESTION}\nсколько стоит роуминг\n"})
    fake = create_embedder("fake:64")
    build_index(root / "articles", root / "index", fake, progress=False)
    return Retriever(load_current(root / "index", fake.name, fake.dim), fake)
