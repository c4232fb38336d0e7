"""The HTTP gateway: the only public entry point. Channel adapters translate, the inbox stores, Rasa answers."""
