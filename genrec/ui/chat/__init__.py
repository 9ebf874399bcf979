"""The chat app for people: the Gradio page (layout and turn flow), its cards, words, preference
chips, calm notices and stylesheet."""
