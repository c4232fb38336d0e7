"""The knowledge base: article titles and addresses per topic (``directory``).

Search over article bodies (a FAISS index) is not here yet; until it is, the bot finds an article only from the
intent's topic in the catalog (``directory.topic_for_intent``).
"""
