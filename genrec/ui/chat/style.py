"""The chat app's stylesheet: cards that wrap to the screen, chips that wrap in rows, and on a
phone one column in reading order (the reply, then its cards, then the rest).
"""

from __future__ import annotations

PHONE_MAX_PX = 768
"""Up to this page width the two columns become one, in the order of `PHONE_ORDER`."""

PHONE_ORDER = ("genrec-chat", "genrec-chips", "genrec-working", "genrec-input-row", "genrec-note",
               "genrec-cards", "genrec-prefs", "genrec-new", "genrec-shortlist-box", "genrec-why")
"""The phone's reading order: the reply, its answer buttons, the input, then the reply's cards
directly below (what the reply points to), then what the app is going by and the rest."""

_ORDER = "\n".join(f"  #{elem_id} {{order:{n};}}" for n, elem_id in enumerate(PHONE_ORDER, 1))

CSS = """
#genrec-banner {background:#fff4e5;border:1px solid #f0a020;border-radius:8px;padding:8px 12px;}
#genrec-banner, #genrec-banner * {color:#3d2a00 !important;}
#genrec-cards, #genrec-cards-list {flex-wrap:nowrap !important;min-width:0 !important;}
#genrec-cards-list {display:grid !important;gap:10px;
  grid-template-columns:repeat(auto-fill, minmax(min(100%, 260px), 1fr));}
#genrec-cards-list > * {min-width:0;}
.genrec-card {border:1px solid var(--border-color-primary);border-radius:10px;padding:10px 12px;
  overflow-wrap:anywhere;}
.genrec-card h4 {margin:0 0 4px 0;font-size:1.05em;}
.genrec-card .meta {color:#374151;font-size:.9em;margin-bottom:4px;}
.dark .genrec-card .meta {color:#e5e7eb;}
.genrec-card .why {font-size:.92em;}
.genrec-card .src {font-size:.8em;margin-top:3px;color:#4b5563;}
.dark .genrec-card .src {color:#d1d5db;}
.genrec-card .verified {color:#1a7f37;font-weight:600;}
.genrec-card .fb {font-size:.85em;margin-top:4px;}
.genrec-card.disliked {opacity:.55;filter:grayscale(1);}
.genrec-fb-row {flex-wrap:wrap !important;}
.genrec-fb-row button {min-width:0 !important;}
#genrec-chips, #genrec-prefs, #genrec-prefs > .row {flex-wrap:wrap !important;gap:6px;
  align-items:center !important;align-content:flex-start;}
#genrec-prefs > .row {flex:1 1 100% !important;}
#genrec-chips button, #genrec-prefs button {flex:0 1 auto !important;min-width:0 !important;
  width:auto !important;}
#genrec-prefs-line {flex:0 0 auto !important;width:auto !important;min-width:max-content !important;
  padding:0 !important;}
#genrec-prefs-line p {margin:0;}
#genrec-note {color:#8a1c1c;}
#genrec-working {color:#1f2937;}
#genrec-input-row {flex-wrap:nowrap !important;align-items:stretch;}
#genrec-input-row button {flex:0 0 auto !important;}
""" + f"""@media (max-width: {PHONE_MAX_PX}px) {{
  #genrec-main {{flex-direction:column !important;flex-wrap:nowrap !important;}}
  #genrec-main > *, #genrec-left > * {{width:100%;min-width:0 !important;}}
  #genrec-left {{display:contents !important;}}
{_ORDER}
}}
"""
