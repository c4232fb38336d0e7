"""The knowledge base: documents and chunks (``documents``, ``chunking``), embedders, the FAISS index as a build
artefact (``index``, ``build``, ``live``), hybrid search (``search``), how the bot answers from it
(``answering``), evaluation and the command line (``python -m kb_index``). No Rasa or FastAPI imports here.

``directory`` names each catalog topic's article (title and address) without the index: the fallback when
the index cannot be loaded, and the topic an intent stands for (``directory.topic_for_intent``).
"""
