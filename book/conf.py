"""Sphinx configuration of the book: the five chapter notebooks rendered with
their stored outputs (never executed here), built by ``scripts/book.py``.

``scripts/book.py`` assembles the source folder in a temporary directory:
this folder's files, copies of the notebooks, the landing page with the
comparison table of chapter 5 filled in, and MathJax 2 under
``_static/mathjax`` (from the ``jupyter-server-mathjax`` package), so that
the book renders math with no network.
"""
import logging

project = "经典卷积神经网络：用飞桨识别病理性近视"
author = "PALM CNN series"
copyright = "Apache-2.0"
language = "zh_CN"

extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "README.md"]
root_doc = "index"

# Render what is stored in the notebooks; never run them during the build.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
# MathJax 2 is loaded from _static (offline), so keep MyST from writing a
# MathJax 3 configuration.
myst_update_mathjax = False

# Local MathJax 2: the combined TeX/MathML config with HTML-CSS output and
# the STIX web fonts, the only font set jupyter-server-mathjax ships.
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full&locale=zh-hans"
mathjax2_config = {
    "tex2jax": {
        "inlineMath": [["\\(", "\\)"]],
        "displayMath": [["\\[", "\\]"]],
        "processEscapes": True,
        "processEnvironments": True,
        "ignoreClass": "tex2jax_ignore|mathjax_ignore|highlight|cell_output",
    },
    "HTML-CSS": {
        "availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None,
        # MathJax 2.7 declares a never-loading placeholder font at
        # url('about:blank'), which Chromium reports as a blocked request.
        "styles": {"@font-face": {"font-family": "MathJax_Blank", "src": "local('MathJax_Blank')"}},
    },
    "menuSettings": {"zoom": "None"},
    "showProcessingMessages": False,
    "messageStyle": "none",
}
mathjax3_config = None

html_theme = "sphinx_book_theme"
html_title = "经典卷积神经网络 · PALM"
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_favicon = "_static/favicon.svg"
# Light mode unless the reader switches: the figures have white backgrounds
# (and an empty default makes the theme log a console error).
html_context = {"default_mode": "light"}
html_last_updated_fmt = None
html_copy_source = True
html_show_sourcelink = False
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": False,
    # The landing page's wide comparison table gets the page's full width.
    "secondary_sidebar_items": {"**": ["page-toc"], "index": []},
}
html_search_language = "zh"

suppress_warnings = ["mystnb.unknown_mime_type"]

# jieba (Chinese word splitting for the search index) logs to stderr.
try:
    import jieba

    jieba.setLogLevel(logging.WARNING)
except ImportError:  # the search index then holds Latin words only
    pass


def setup(app):
    # Sphinx 9.0 writes `window.Stemmer = ChineseStemmer;` into
    # language_data.js while Chinese search ships the English stemmer, so
    # every page logs "ChineseStemmer is not defined" and search breaks
    # (sphinx-doc/sphinx#14229). Name the stemmer that is actually shipped.
    import sphinx
    from sphinx.search.zh import SearchChinese

    if sphinx.version_info[0] >= 9 and SearchChinese.js_stemmer_rawcode == "english-stemmer.js":
        class SearchChineseFixed(SearchChinese):
            language_name = "English"

        app.add_search_language(SearchChineseFixed)
