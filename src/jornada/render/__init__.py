"""Drawing journey maps: HTML, SVG, PNG, PDF and Mermaid.

>>> from jornada.model import Journey, Stage
>>> journey = Journey(id="shop", title="Buying shoes", stages=[Stage(id="a", name="Awareness")])
>>> render_mermaid(journey).splitlines()[:3]
['journey', '    title Buying shoes', '    section Awareness']

HTML and SVG come from Jinja2 templates with autoescaping on, so text from a map
is always shown as text. PNG and PDF print the HTML with headless Chromium
(``$JORNADA_CHROMIUM`` or ``/usr/bin/chromium``).
"""

from jornada.render._browser import html_to_pdf, html_to_png, render_pdf, render_png
from jornada.render._errors import BrowserUnavailableError, UnsupportedFormatError
from jornada.render._files import SUFFIXES, render_to_file
from jornada.render._html import map_stylesheet, render_html, render_map_fragment
from jornada.render._mermaid import render_mermaid
from jornada.render._svg import render_svg

__all__ = [
    "SUFFIXES",
    "BrowserUnavailableError",
    "UnsupportedFormatError",
    "html_to_pdf",
    "html_to_png",
    "map_stylesheet",
    "render_html",
    "render_map_fragment",
    "render_mermaid",
    "render_pdf",
    "render_png",
    "render_svg",
    "render_to_file",
]
