"""Simulated users: what each one knows (a persona from real training ratings), how it speaks
(template phrasings or real seekers' sentences) and how it reacts to the lists it is shown."""
