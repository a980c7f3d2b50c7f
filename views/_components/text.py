"""Text from the MIS, QuickBooks, an operator or an error, shown as the text it is.

Most of Streamlit's text APIs interpret Markdown (titles, captions, st.markdown, alerts, metric
labels and values, toasts, expander and tab labels, button, page-link and download labels,
widget labels and radio options, every ``help=``, st.table cells) and more: colour directives
(``:red[...]``), Material icons (``:material/x:``), emoji shortcodes (``:smile:``), GFM autolinks
(``http://...``, ``www.``, ``a@b.org``), math (``$x$``) and typographic replacements
(``a -> b``). There is no escape helper in Streamlit, and escaping the punctuation alone is not
enough (autolinks and the typographic replacements work on text after the escapes are gone).

:func:`literal` makes any string show as itself in those APIs; it was checked against 138
hostile cases in Chromium (every slot, visible text equal to the input, no request to another
host). Literal widgets (st.text, st.code, st.json, st.dataframe cells and headers, selectbox
and multiselect options) need no escaping and must not get it: a backslash would show.
"""

from __future__ import annotations

import re

WJ = "\u2060"  # WORD JOINER: invisible, zero-width, breaks no line
NBSP = "\u00a0"
_ASCII_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")  # all ASCII punctuation: CommonMark escapes any
_TYPO_PAIR = re.compile(r"(?<=[-<>~=])(?=[-<>=])")  # ->, <-, <->, --, >=, <=, ~=
_WWW = re.compile(r"(?i)\b(www)(?=\.)")
_LEADING_WS = re.compile(r"^[ \t]+", re.M)
_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def literal(text: object) -> str:
    """``text`` escaped so that a Markdown-interpreting Streamlit API shows it verbatim."""
    s = str(text).replace("\r\n", "\n").replace("\r", "\n")
    s = s.replace(":", ":" + WJ)  # :material/x:, :smile:, :streamlit:, http://, mailto:
    s = s.replace("@", "@" + WJ)  # GFM e-mail autolinks
    s = _WWW.sub(r"\1" + WJ, s)  # GFM www. autolinks
    s = _TYPO_PAIR.sub(WJ, s)  # Streamlit's typographic replacements
    # leading spaces would make an indented code block in a label
    s = _LEADING_WS.sub(lambda m: NBSP * len(m.group(0).expandtabs(4)), s)
    return _ASCII_PUNCT.sub(r"\\\1", s)


def unliteral(shown: str) -> str:
    """What a person reads where :func:`literal` text is shown (for tests: AppTest reports
    the escaped string that was passed to Streamlit)."""
    return _UNESCAPE.sub(r"\1", shown.replace(WJ, "")).replace(NBSP, " ")
