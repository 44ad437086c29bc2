"""From generated text to the answer that is scored, and when a partial generation already fixes it.

Post-processing (`AnswerRule.answer`) is BIG-bench's ``model_utils.postprocess_output`` applied to
the generated text, after an optional cut at extra stop sequences:

1. ``stop_sequences`` (not BIG-bench; empty by default): the text is cut *before* the first
   occurrence of any of them, as lm-evaluation-harness does with ``until``;
2. ``stop_string`` (BIG-bench): ``i = text.find(stop_string)``; if ``i > 0`` the text is cut
   *after* it (the stop string stays in the text; an occurrence at index 0 cuts nothing);
3. ``output_regex`` (BIG-bench): the answer is ``re.findall(output_regex, text)[0]``, or ``""``
   when nothing matches. Without a regex the answer is the text of step 2.

BIG-bench also truncates the text to ``max_length`` characters; this engine bounds generation by
``max_new_tokens`` instead and applies no character limit.

`AnswerRule.settled_answer(prefix)` answers: given that greedy generation has produced text that
begins with `prefix` (and may go on), is the answer already fixed whatever follows? It returns the
answer when that is provable and None otherwise. The rules, in order:

a. a stop sequence lies wholly inside `prefix` and no occurrence of any stop sequence could start
   before it and run past the end of `prefix`: the text is cut there and the answer is computed
   from the cut text;
b. otherwise only `safe = prefix` minus its longest tail that is a proper prefix of a stop
   sequence is known to survive the cut (a later cut can only start inside that tail), and
   rules c-d look at `safe`;
c. ``stop_string`` occurs in `safe` at index i > 0: BIG-bench keeps exactly ``safe[:i+len]`` (the
   first occurrence in any extension is this one), so the answer is computed from it;
d. the regex is *run-shaped*, i.e. ``X+`` or ``Y?X+`` where X and Y each match one character
   (``[-+]?\\d+`` and BIG-bench's default ``[^\\.\\?\\!\\;\\n]+`` are), and its first match in
   `safe` ends before the end of `safe`. Proof sketch: for such a regex the engine, scanning start
   positions left to right, reads only characters up to and including the one that ends the
   greedy run of X; that character is inside `safe`, so every extension gives the same first
   match. Regexes of other shapes never settle early (fall back to full generation).

Anything else (no match yet, a match touching the end, an unknown regex shape, BIG-bench's
index-0 stop-string quirk) returns None: the caller keeps generating.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

try:  # Python 3.11+: the regex parser lives in re._parser (sre_parse is a deprecated alias).
    from re import _constants as _sre_constants
    from re import _parser as _sre_parser
except ImportError:  # pragma: no cover
    import sre_constants as _sre_constants  # type: ignore[no-redef]
    import sre_parse as _sre_parser  # type: ignore[no-redef]


_SINGLE_CHAR_OPS = {
    _sre_constants.LITERAL,
    _sre_constants.NOT_LITERAL,
    _sre_constants.ANY,
    _sre_constants.IN,
}


def is_run_shaped(pattern: str) -> bool:
    """True for regexes ``X+`` or ``Y?X+`` (greedy, X and Y single-character matchers)."""
    try:
        parsed = _sre_parser.parse(pattern)
    except re.error:
        return False
    items = list(parsed)

    def single(item: list) -> bool:
        return len(item) == 1 and item[0][0] in _SINGLE_CHAR_OPS

    def repeat(item: tuple, low: int, high: int) -> bool:
        op, args = item
        return (
            op == _sre_constants.MAX_REPEAT
            and args[0] == low
            and args[1] == high
            and single(list(args[2]))
        )

    many = _sre_constants.MAXREPEAT
    if len(items) == 1:
        return repeat(items[0], 1, many)
    if len(items) == 2:
        return repeat(items[0], 0, 1) and repeat(items[1], 1, many)
    return False


@dataclass(frozen=True)
class AnswerRule:
    """How a task turns generated text into an answer (see the module docstring)."""

    output_regex: str | None
    stop_string: str | None
    stop_sequences: tuple[str, ...] = field(default=())

    @cached_property
    def _compiled(self) -> re.Pattern[str] | None:
        return re.compile(self.output_regex) if self.output_regex is not None else None

    @cached_property
    def _run_shaped(self) -> bool:
        return self.output_regex is not None and is_run_shaped(self.output_regex)

    # -- complete text ----------------------------------------------------------------------
    def cut_at_stop_sequences(self, text: str) -> str:
        """Cut before the first occurrence of any stop sequence (lm-eval's ``until``)."""
        cut = len(text)
        for stop in self.stop_sequences:
            index = text.find(stop)
            if index != -1:
                cut = min(cut, index)
        return text[:cut]

    def bigbench_postprocess(self, text: str) -> str:
        """BIG-bench ``postprocess_output`` without the character limit."""
        if self.stop_string:
            index = text.find(self.stop_string)
            if index > 0:
                text = text[: index + len(self.stop_string)]
        if self._compiled is not None:
            matches = self._compiled.findall(text)
            text = matches[0] if matches else ""
        return text

    def answer(self, text: str) -> str:
        """The scored answer for a complete generation."""
        return self.bigbench_postprocess(self.cut_at_stop_sequences(text))

    # -- prefix of a generation -------------------------------------------------------------
    def settled_answer(self, prefix: str) -> str | None:
        """The answer if every continuation of `prefix` yields it, else None."""
        safe = prefix
        if self.stop_sequences:
            cut = self._settled_cut(prefix)
            if cut is not None:
                return self.bigbench_postprocess(prefix[:cut])
            safe = prefix[: len(prefix) - self._pending_tail(prefix)]
        if self.stop_string:
            index = safe.find(self.stop_string)
            if index > 0:
                return self.bigbench_postprocess(safe[: index + len(self.stop_string)])
        if self._run_shaped and self._compiled is not None:
            match = self._compiled.search(safe)
            if match is not None and match.end() < len(safe):
                return match.group(0)
        return None

    def _settled_cut(self, prefix: str) -> int | None:
        """Index of the final cut if it is already certain, else None."""
        earliest = None
        for stop in self.stop_sequences:
            index = prefix.find(stop)
            if index != -1 and (earliest is None or index < earliest):
                earliest = index
        if earliest is None:
            return None
        # An occurrence that starts before `earliest` and runs past the end would cut earlier.
        for stop in self.stop_sequences:
            for start in range(max(0, len(prefix) - len(stop) + 1), min(earliest, len(prefix))):
                if stop.startswith(prefix[start:]):
                    return None
        return earliest

    def _pending_tail(self, prefix: str) -> int:
        """Length of the longest tail of `prefix` that is a proper prefix of a stop sequence."""
        longest = 0
        for stop in self.stop_sequences:
            for length in range(min(len(stop) - 1, len(prefix)), longest, -1):
                if prefix.endswith(stop[:length]):
                    longest = length
                    break
        return longest
