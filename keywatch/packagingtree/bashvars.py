"""Reading the variables of a PKGBUILD or an ebuild without running bash.

A packaging tree is untrusted input: sourcing a PKGBUILD runs whatever it
holds. This reader understands the part of bash that packaging files use to
*declare* things, and evaluates it the way bash would:

- top-level assignments `name=word`, `name+=word`, arrays `name=(w1 w2 …)` and
  `name+=(…)`, also after `export`, `declare`, `local`, `readonly`;
- quoting: `'…'`, `"…"` (with `\\$ \\" \\\\ \\``), `$'…'`, backslash escapes,
  line continuations, comments;
- parameter expansion: `$name`, `${name}`, `${name[i]}`, `${name[@]}`,
  `${#name}`, `${name:-w}`, `${name-w}`, `${name:+w}`, `${name+w}`,
  `${name#p}`, `${name##p}`, `${name%p}`, `${name%%p}`, `${name/p/r}`,
  `${name//p/r}`, `${name/#p/r}`, `${name/%p/r}`, `${name^^}`, `${name,,}`,
  `${name^}`, `${name,}`, `${name:offset[:length]}`, with glob patterns;
- brace expansion in array elements (`"$url/$pkgname-$pkgver.tar.gz"{,.sig}`);
- Gentoo's `$(ver_cut …)` and `$(ver_rs …)`, which are pure functions of the
  version.

Everything else is *not* run: other command substitutions, arithmetic,
function bodies (skipped whole), `case` blocks (skipped, and recorded). A
value that depends on one of those is `Unknown`, with the reason, so the
caller reports it instead of guessing. Assignments inside `if`/`for`/`&&`
are evaluated in text order and flagged `conditional`.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

Value = str | list[str]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\[[^\]\s]*\])?(\+?)=")
_FUNCTION = re.compile(r"(?:function\s+([A-Za-z_][\w:.-]*)\s*(?:\(\s*\))?|([A-Za-z_][\w:.-]*)\s*\(\s*\))\s*")
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][\w]*)\1")
_DECLARATIONS = ("export", "declare", "local", "readonly", "typeset")
_FIRST_WORD = re.compile(r"[^\s;&|()<>]+")
_OPTION = re.compile(r"-[A-Za-z]+(?=\s)")
_TEST = re.compile(r"(\[\[|\[|test(?=\s))")
_CASE_ESAC = re.compile(r"(?<![\w-])(case|esac)(?![\w-])")
_LOOPS = ("for", "while", "until", "select")
# A value can double at every assignment (a=$a$a) and braces multiply ({a,b}{a,b}…): both are capped.
MAX_VALUE_CHARS = 64 * 1024
MAX_FIELDS = 4096
_WORD_END = set(" \t\n;&|()<>")


class ShellError(ValueError):
    """A word that cannot be evaluated without running something; the message says what.

    `root` is the original reason when the word only failed through a variable that was already unknown,
    so a chain of dependent variables reports the cause once instead of nesting it.
    """

    def __init__(self, message: str, root: str | None = None) -> None:
        super().__init__(message)
        self.root = root


@dataclass(frozen=True)
class Unknown:
    """A variable whose value depends on something this reader does not run."""

    reason: str


# --- words -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Lit:
    text: str
    quoted: bool


@dataclass(frozen=True)
class Param:
    name: str
    index: str | None  # "@", "*", a number, or None
    op: str | None  # None, "len", ":-", "-", ":+", "+", ":=", "=", "#", "##", "%", "%%", "/", "//", "/#", "/%",
    #                 "^^", ",,", "^", ",", ":"
    arg: tuple = ()  # parts of the word argument
    arg2: tuple | None = None  # replacement (for / forms) or length (for :offset:length)
    quoted: bool = False


@dataclass(frozen=True)
class Command:
    text: str  # the inside of $( … ) or ` … `
    quoted: bool
    backticks: bool = False


Part = Lit | Param | Command


@dataclass
class Assignment:
    name: str
    line: int
    append: bool
    array: bool
    conditional: bool
    errors: list[str] = field(default_factory=list)


@dataclass
class SimpleCommand:
    line: int
    words: list[list[Part]]
    conditional: bool


@dataclass
class Script:
    """What a file declares: variables (in `env`), the assignments that set them, and what was not read."""

    env: dict[str, Value | Unknown]
    assignments: list[Assignment]
    commands: list[SimpleCommand]
    skipped: list[tuple[int, str]]  # (line, what was not evaluated and why)
    syntax_errors: list[tuple[int, str]]

    def value(self, name: str) -> Value | Unknown | None:
        return self.env.get(name)

    def assignments_of(self, name: str) -> list[Assignment]:
        return [a for a in self.assignments if a.name == name]

    def command_words(self, command: SimpleCommand) -> list[str]:
        """A command's words, evaluated (for `inherit` and the like); unreadable words are dropped."""
        out: list[str] = []
        for word in command.words:
            try:
                out += _Evaluator(self.env).fields(word, array_context=True)
            except ShellError:
                continue
        return out


# --- the reader --------------------------------------------------------------------------------

def script_problems(script: Script, used) -> list[tuple[int, str]]:
    """(line, message) for everything the reader could not evaluate that could change a value `used(name)` needs."""
    found = [(line, f"cannot read: {message}") for line, message in script.syntax_errors]
    found += list(script.skipped)
    for assignment in script.assignments:
        if not used(assignment.name):
            continue
        found += [(assignment.line, f"{assignment.name}: {error}") for error in assignment.errors]
        if assignment.conditional:
            found.append((assignment.line, f"{assignment.name} is set inside a condition or loop, which is not "
                                           "evaluated: read as if it ran"))
    return found


def read_script(text: str, initial: dict[str, Value] | None = None) -> Script:
    """Parse `text` and evaluate its top-level declarations, starting from `initial` variables."""
    reader = _Reader(text, dict(initial or {}))
    reader.run()
    return Script(reader.env, reader.assignments, reader.commands, reader.skipped, reader.errors)


@dataclass
class _Frame:
    known: bool  # whether the condition (so far) was decided
    active: bool  # whether the current branch runs (True when undecided)
    taken: bool  # whether an earlier or the current branch was decided to run


class _Syntax(Exception):
    def __init__(self, pos: int, message: str) -> None:
        super().__init__(message)
        self.pos = pos


class _Reader:
    def __init__(self, text: str, env: dict[str, Value | Unknown]) -> None:
        self.text = text
        self.n = len(text)
        self.pos = 0
        self.env = env
        self.assignments: list[Assignment] = []
        self.commands: list[SimpleCommand] = []
        self.skipped: list[tuple[int, str]] = []
        self.errors: list[tuple[int, str]] = []
        self.frames: list[_Frame] = []  # enclosing if/loop/{ } blocks
        self.after_operator = False  # the statement follows && or ||
        self.pending_heredocs: list[str] = []
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]

    def line_of(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    # -- statements --

    def run(self) -> None:
        while True:
            self._skip_separators()
            if self.pos >= self.n:
                return
            start = self.pos
            try:
                self._statement()
            except _Syntax as exc:
                self.errors.append((self.line_of(exc.pos), str(exc)))
                self._skip_to_line_end(max(exc.pos, start + 1))

    def _skip_separators(self) -> None:
        text = self.text
        while self.pos < self.n:
            c = text[self.pos]
            if c in " \t":
                self.pos += 1
            elif c == ";":
                self.pos += 1
                self.after_operator = False
            elif c == "\n":
                self.pos += 1
                self.after_operator = False
                self._consume_heredocs()
            elif c == "\\" and text.startswith("\\\n", self.pos):
                self.pos += 2
            elif c == "#":
                self._skip_comment()
            elif text.startswith("&&", self.pos) or text.startswith("||", self.pos):
                self.pos += 2
                self.after_operator = True
            elif c in "&|":
                self.pos += 1
            else:
                return

    def _skip_comment(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = self.n if end < 0 else end

    def _skip_to_line_end(self, pos: int) -> None:
        end = self.text.find("\n", pos)
        self.pos = self.n if end < 0 else end

    def _consume_heredocs(self) -> None:
        while self.pending_heredocs:
            delimiter = self.pending_heredocs.pop(0)
            while self.pos < self.n:
                end = self.text.find("\n", self.pos)
                line = self.text[self.pos:self.n if end < 0 else end]
                self.pos = self.n if end < 0 else end + 1
                if line.strip() == delimiter:
                    break

    def _conditional(self) -> bool:
        return self.after_operator or any(not frame.known for frame in self.frames)

    def _active(self) -> bool:
        """False inside a branch that a decided condition rules out: its assignments do not happen."""
        return all(frame.active for frame in self.frames)

    def _statement(self) -> None:
        text, pos = self.text, self.pos
        word = _FIRST_WORD.match(text, pos)
        first = word.group(0) if word else ""
        if first in _DECLARATIONS:
            self.pos += len(first)
            while True:  # skip options such as -a, -x, -g
                self._skip_blanks()
                option = _OPTION.match(text, self.pos)
                if not option:
                    break
                self.pos = option.end()
            return
        match = _ASSIGNMENT.match(text, pos)
        if match:
            self._assignment(match)
            return
        function = _FUNCTION.match(text, pos)
        if function and (function.group(1) or first.rstrip("(") == function.group(2)):
            name = function.group(1) or function.group(2)
            self.pos = function.end()
            self._skip_blanks(newlines=True)
            if self.pos < self.n and text[self.pos] in "{(":
                self._skip_balanced(text[self.pos])
            else:
                raise _Syntax(self.pos, f"function {name}: body not understood")
            return
        if first == "[[":
            end = text.find("]]", pos)
            if end < 0:
                raise _Syntax(pos, "[[ not closed")
            self.pos = end + 2
            return
        if first in ("if", "elif"):
            self.pos += len(first)
            outcome = self._condition()
            if first == "if":
                self.frames.append(_Frame(known=outcome is not None, active=outcome is not False,
                                          taken=outcome is True))
            elif self.frames:
                frame = self.frames[-1]
                if frame.known and frame.taken:
                    frame.active = False
                else:
                    frame.known = frame.known and outcome is not None
                    frame.active = outcome is not False
                    frame.taken = frame.taken or outcome is True
            return
        if first == "else":
            self.pos += len(first)
            if self.frames:
                frame = self.frames[-1]
                frame.active = not frame.taken if frame.known else True
            return
        if first in ("then", "do", "!"):
            self.pos += len(first)
            return
        if first == "{":
            self.pos += 1
            self.frames.append(_Frame(known=True, active=True, taken=True))
            return
        if first in ("fi", "done", "}"):
            self.pos += len(first)
            if self.frames:
                self.frames.pop()
            return
        if first == "case":
            self._skip_case()
            return
        if text.startswith("(", pos):
            if text.startswith("((", pos):
                self.skipped.append((self.line_of(pos), "arithmetic command (( … )) not evaluated"))
            self._skip_balanced("(")
            return
        if first in _LOOPS:
            self.pos += len(first)
            self.frames.append(_Frame(known=False, active=True, taken=False))
            self._command(None)
            return
        self._command(first)

    def _condition(self) -> bool | None:
        """The outcome of an `if` test when it is a plain string comparison of known values, else None.

        `[[ A == B ]]`, `[[ A != B ]]` (B a glob pattern) and `[ A = B ]`/`[ A != B ]`; anything else,
        or an operand that is not known, leaves the branch undecided (both are read, as conditional).
        """
        self._skip_blanks()
        match = _TEST.match(self.text, self.pos)
        if not match:
            self._command(None)
            return None
        closer = {"[[": "]]", "[": "]", "test": None}[match.group(1)]
        start = match.end()
        if closer is None:
            end = self.text.find("\n", start)
            end = self.n if end < 0 else end
            inner_end = end
        else:
            inner_end = self.text.find(closer, start)
            if inner_end < 0:
                raise _Syntax(self.pos, f"{match.group(1)} not closed")
            end = inner_end + len(closer)
        inner = self.text[start:inner_end]
        self.pos = end
        self._command(None)  # whatever follows on the line (`; then` ends it)
        reader = _Reader(inner, self.env)
        words: list[list[Part]] = []
        try:
            while True:
                reader._skip_blanks(newlines=True)
                if reader.pos >= reader.n:
                    break
                if reader.text[reader.pos] in ";&|()<>":
                    return None
                words.append(reader._word())
        except _Syntax:
            return None
        if len(words) != 3:
            return None
        evaluator = _Evaluator(self.env)
        operator = "".join(part.text for part in words[1] if isinstance(part, Lit))
        if operator not in ("==", "=", "!="):
            return None
        try:
            left = "".join(evaluator.fields(words[0], array_context=False))
            pattern = evaluator._pattern(words[2]) if closer == "]]" else re.escape(
                "".join(evaluator.fields(words[2], array_context=False)))
        except ShellError:
            return None
        equal = re.fullmatch(pattern, left, re.DOTALL) is not None
        return equal if operator != "!=" else not equal

    def _skip_blanks(self, newlines: bool = False) -> None:
        while self.pos < self.n and (self.text[self.pos] in " \t" or (newlines and self.text[self.pos] == "\n")
                                     or self.text.startswith("\\\n", self.pos)):
            self.pos += 2 if self.text[self.pos] == "\\" else 1

    def _assignment(self, match: re.Match) -> None:
        name, subscript, append = match.group(1), match.group(2), bool(match.group(3))
        line = self.line_of(self.pos)
        self.pos = match.end()
        assignment = Assignment(name, line, append, False, self._conditional())
        if not self._active():  # ruled out by a decided condition: parsed, not evaluated
            if self.pos < self.n and self.text[self.pos] == "(":
                self.pos += 1
                for _ in self._array_words():
                    pass
            else:
                self._word()
            return
        if subscript:
            word = self._word()
            self.skipped.append((line, f"{name}{subscript}=…: element assignment not evaluated"))
            self.env[name] = Unknown(f"{name} is set element by element (line {line}), which is not evaluated")
            self.assignments.append(assignment)
            return
        evaluator = _Evaluator(self.env)
        if self.pos < self.n and self.text[self.pos] == "(":
            assignment.array = True
            self.pos += 1
            values: list[str] = []
            try:
                for word, word_pos in self._array_words():
                    try:
                        values += evaluator.fields(word, array_context=True)
                    except ShellError as exc:
                        assignment.errors.append(f"line {self.line_of(word_pos)}: {exc}")
            except _Syntax as exc:  # reported once, as a syntax error; the variable is unknown from here
                self.env[name] = Unknown(f"{name} (line {line}) cannot be read: {exc}")
                self.assignments.append(assignment)
                raise
            previous = self.env.get(name)
            if append and isinstance(previous, Unknown):
                self.env[name] = previous
            elif append and previous is not None:
                self.env[name] = (previous if isinstance(previous, list) else [previous]) + values
            else:
                self.env[name] = values
            try:
                _check_size(self.env[name])
            except ShellError as exc:
                assignment.errors.append(f"line {line}: {exc}")
                self.env[name] = Unknown(exc.root or f"{name} (line {line}): {exc}")
        else:
            word = self._word()
            try:
                value = "".join(evaluator.fields(word, array_context=False))
            except ShellError as exc:
                assignment.errors.append(f"line {line}: {exc}")
                self.env[name] = Unknown(exc.root or f"{name} (line {line}): {exc}")
            else:
                previous = self.env.get(name)
                if append and isinstance(previous, list):
                    self.env[name] = previous[:1] and [previous[0] + value] + previous[1:] or [value]
                elif append and isinstance(previous, str):
                    self.env[name] = previous + value if len(previous) + len(value) <= MAX_VALUE_CHARS else Unknown(
                        f"{name} (line {line}): longer than {MAX_VALUE_CHARS:,} characters")
                elif append and isinstance(previous, Unknown):
                    pass
                else:
                    self.env[name] = value
        self.assignments.append(assignment)

    def _array_words(self):
        """Words of an array body up to its `)`: newlines and comments allowed inside."""
        opened = self.pos - 1
        while True:
            self._skip_blanks(newlines=True)
            if self.pos >= self.n:
                raise _Syntax(opened, "array not closed: ')' missing")
            c = self.text[self.pos]
            if c == ")":
                self.pos += 1
                return
            if c == "#":
                self._skip_comment()
                continue
            if c in ";&|<>(":
                raise _Syntax(self.pos, f"unexpected {c!r} inside an array")
            start = self.pos
            yield self._word(), start

    def _command(self, first: str | None) -> None:
        """A simple command: its words, read up to the end of the statement, kept but not run."""
        line = self.line_of(self.pos)
        words = []
        while True:
            self._skip_blanks()
            if self.pos >= self.n:
                break
            c = self.text[self.pos]
            if c in "\n;&|)" or c == "#":
                break
            heredoc = _HEREDOC.match(self.text, self.pos)
            if heredoc:
                self.pending_heredocs.append(heredoc.group(2))
                self.pos = heredoc.end()
                continue
            if c in "<>":
                self.pos += 1
                if self.pos < self.n and self.text[self.pos] in "<>&":
                    self.pos += 1
                continue
            if c == "(":
                raise _Syntax(self.pos, "unexpected '(' in a command")
            words.append(self._word())
        if self.pos < self.n and self.text[self.pos] == ")":
            raise _Syntax(self.pos, "unexpected ')'")
        if words and self._active():
            self.commands.append(SimpleCommand(line, words, self._conditional()))

    def _skip_balanced(self, opener: str) -> None:
        """Skip a `{ … }` or `( … )` block, honouring quotes, comments, heredocs and nested blocks."""
        closer = "}" if opener == "{" else ")"
        start, depth, text = self.pos, 0, self.text
        at_word_start = True
        while self.pos < self.n:
            c = text[self.pos]
            if c == "\\":
                self.pos += 2
                at_word_start = False
                continue
            if c in "'\"`":
                self._skip_quoted(c)
                at_word_start = False
                continue
            if c == "#" and at_word_start:
                self._skip_comment()
                continue
            heredoc = _HEREDOC.match(text, self.pos) if c == "<" else None
            if heredoc:
                self.pending_heredocs.append(heredoc.group(2))
                self.pos = heredoc.end()
                continue
            if c == "\n":
                self.pos += 1
                self._consume_heredocs()
                at_word_start = True
                continue
            if c == opener:
                depth += 1
            elif c == closer:
                depth -= 1
                if depth == 0:
                    self.pos += 1
                    return
            at_word_start = c in " \t;&|(){}"
            self.pos += 1
        raise _Syntax(start, f"'{opener}' not closed")

    def _skip_quoted(self, quote: str) -> None:
        start = self.pos
        self.pos += 1
        while self.pos < self.n:
            c = self.text[self.pos]
            if c == "\\" and quote != "'":
                self.pos += 2
                continue
            self.pos += 1
            if c == quote:
                return
        raise _Syntax(start, f"{quote} not closed")

    def _skip_case(self) -> None:
        start, depth = self.pos, 0
        line = self.line_of(start)
        for match in _CASE_ESAC.finditer(self.text, start):
            depth += 1 if match.group(1) == "case" else -1
            if depth == 0:
                self.pos = match.end()
                text = self.text[start:self.pos]
                self.skipped.append((line, "case … esac block not evaluated: " + " ".join(text.split())[:160]))
                return
        raise _Syntax(start, "case without esac")

    # -- words --

    def _word(self) -> list[Part]:
        """One shell word at self.pos, as parts (quote removal done, expansions kept)."""
        parts: list[Part] = []
        text = self.text
        literal: list[str] = []

        def flush() -> None:
            if literal:
                parts.append(Lit("".join(literal), False))
                literal.clear()

        while self.pos < self.n:
            c = text[self.pos]
            if c in _WORD_END:
                break
            if c == "\\":
                if text.startswith("\\\n", self.pos):
                    self.pos += 2
                    continue
                flush()
                parts.append(Lit(text[self.pos + 1:self.pos + 2], True))
                self.pos += 2
                continue
            if c == "'":
                flush()
                end = text.find("'", self.pos + 1)
                if end < 0:
                    raise _Syntax(self.pos, "' not closed")
                parts.append(Lit(text[self.pos + 1:end], True))
                self.pos = end + 1
                continue
            if c == '"':
                flush()
                parts += self._double_quoted()
                continue
            if c == "$":
                flush()
                parts.append(self._dollar(quoted=False))
                continue
            if c == "`":
                flush()
                parts.append(self._backticks(quoted=False))
                continue
            literal.append(c)
            self.pos += 1
        flush()
        return parts

    def _double_quoted(self) -> list[Part]:
        start = self.pos
        self.pos += 1
        parts: list[Part] = []
        literal: list[str] = []
        text = self.text
        while self.pos < self.n:
            c = text[self.pos]
            if c == '"':
                self.pos += 1
                if literal or not parts:
                    parts.append(Lit("".join(literal), True))
                return parts
            if c == "\\":
                nxt = text[self.pos + 1:self.pos + 2]
                if nxt == "\n":
                    self.pos += 2
                    continue
                literal.append(nxt if nxt in '$`"\\' else "\\" + nxt)
                self.pos += 2
                continue
            if c == "$":
                if literal:
                    parts.append(Lit("".join(literal), True))
                    literal = []
                parts.append(self._dollar(quoted=True))
                continue
            if c == "`":
                if literal:
                    parts.append(Lit("".join(literal), True))
                    literal = []
                parts.append(self._backticks(quoted=True))
                continue
            literal.append(c)
            self.pos += 1
        raise _Syntax(start, '" not closed')

    def _backticks(self, quoted: bool) -> Command:
        start = self.pos
        self._skip_quoted("`")
        return Command(self.text[start + 1:self.pos - 1], quoted, backticks=True)

    def _dollar(self, quoted: bool) -> Part:
        text, pos = self.text, self.pos
        nxt = text[pos + 1:pos + 2]
        if nxt == "{":
            self.pos += 2
            return self._braced(quoted)
        if text.startswith("$((", pos):
            raise _Syntax(pos, "$(( … )) arithmetic is not evaluated")
        if nxt == "(":
            self.pos += 1
            start = self.pos
            self._skip_balanced("(")
            return Command(text[start + 1:self.pos - 1], quoted)
        if nxt == "'" and not quoted:
            end = pos + 2
            out = []
            while end < self.n and text[end] != "'":
                if text[end] == "\\" and end + 1 < self.n:
                    out.append(_ANSI_C.get(text[end + 1], text[end + 1]))
                    end += 2
                    continue
                out.append(text[end])
                end += 1
            if end >= self.n:
                raise _Syntax(pos, "$' not closed")
            self.pos = end + 1
            return Lit("".join(out), True)
        name = _NAME.match(text, pos + 1)
        if name:
            self.pos = name.end()
            return Param(name.group(0), None, None, quoted=quoted)
        if nxt and (nxt.isdigit() or nxt in "@*#?$!-"):
            self.pos += 2
            return Param(nxt, None, None, quoted=quoted)
        self.pos += 1
        return Lit("$", quoted)

    def _braced(self, quoted: bool) -> Param:
        """The inside of ${ … }, self.pos just after the '{'."""
        text, start = self.text, self.pos - 2
        if text.startswith("#", self.pos) and _NAME.match(text, self.pos + 1):
            name = _NAME.match(text, self.pos + 1)
            if text.startswith("}", name.end()):
                self.pos = name.end() + 1
                return Param(name.group(0), None, "len", quoted=quoted)
        if text.startswith("!", self.pos):
            raise _Syntax(start, "${!…} indirection is not evaluated")
        name = _NAME.match(text, self.pos) or re.compile(r"\d+|[@*#?$!-]").match(text, self.pos)
        if not name:
            raise _Syntax(start, "bad ${…} expansion")
        self.pos = name.end()
        index = None
        if text.startswith("[", self.pos):
            end = text.find("]", self.pos)
            if end < 0:
                raise _Syntax(start, "${name[ not closed")
            index = text[self.pos + 1:end]
            self.pos = end + 1
        if text.startswith("}", self.pos):
            self.pos += 1
            return Param(name.group(0), index, None, quoted=quoted)
        for op in (":-", ":+", ":=", ":?", "##", "%%", "//", "/#", "/%", "^^", ",,",
                   "-", "+", "=", "?", "#", "%", "/", "^", ",", ":"):
            if text.startswith(op, self.pos):
                break
        else:
            raise _Syntax(start, f"${{{name.group(0)}…}}: operator not understood")
        self.pos += len(op)
        if op in ("^^", ",,", "^", ",") and text.startswith("}", self.pos):
            self.pos += 1
            return Param(name.group(0), index, op, quoted=quoted)
        if op in ("/", "//", "/#", "/%"):
            pattern = self._inner_word(("/", "}"))
            replacement: tuple = ()
            if text.startswith("/", self.pos):
                self.pos += 1
                replacement = tuple(self._inner_word(("}",)))
            self._expect_close(start)
            return Param(name.group(0), index, op, tuple(pattern), replacement, quoted=quoted)
        if op == ":":
            offset = self._inner_word((":", "}"))
            length = None
            if text.startswith(":", self.pos):
                self.pos += 1
                length = tuple(self._inner_word(("}",)))
            self._expect_close(start)
            return Param(name.group(0), index, op, tuple(offset), length, quoted=quoted)
        arg = self._inner_word(("}",))
        self._expect_close(start)
        return Param(name.group(0), index, op, tuple(arg), quoted=quoted)

    def _expect_close(self, start: int) -> None:
        if not self.text.startswith("}", self.pos):
            raise _Syntax(start, "${ not closed")
        self.pos += 1

    def _inner_word(self, stops: tuple[str, ...]) -> list[Part]:
        """A word inside ${ … }: quotes and expansions allowed, blanks are literal, ends at a stop."""
        parts: list[Part] = []
        literal: list[str] = []
        text = self.text
        while self.pos < self.n:
            c = text[self.pos]
            if c in stops:
                break
            if c == "\\":
                literal.append(text[self.pos:self.pos + 2])  # kept: a pattern needs to know it was escaped
                self.pos += 2
                continue
            if c in "'\"":
                if literal:
                    parts.append(Lit("".join(literal), False))
                    literal = []
                if c == "'":
                    end = text.find("'", self.pos + 1)
                    if end < 0:
                        raise _Syntax(self.pos, "' not closed")
                    parts.append(Lit(text[self.pos + 1:end], True))
                    self.pos = end + 1
                else:
                    parts += self._double_quoted()
                continue
            if c == "$":
                if literal:
                    parts.append(Lit("".join(literal), False))
                    literal = []
                parts.append(self._dollar(quoted=False))
                continue
            literal.append(c)
            self.pos += 1
        if literal:
            parts.append(Lit("".join(literal), False))
        return parts


_ANSI_C = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"', "e": "\x1b", "a": "\a", "r": "\r"}


# --- evaluation --------------------------------------------------------------------------------

class _Evaluator:
    def __init__(self, env: dict[str, Value | Unknown]) -> None:
        self.env = env

    def fields(self, word: list[Part], array_context: bool) -> list[str]:
        """The strings a word becomes: brace expansion, then expansions, then (arrays) field splitting."""
        variants = _brace_expand(word) if array_context else [word]
        out: list[str] = []
        for parts in variants:
            out += self._expand(parts, array_context)
            _check_size(out)
        return out

    def _expand(self, parts: list[Part], array_context: bool) -> list[str]:
        if not array_context:
            return ["".join(p.text if isinstance(p, Lit) else " ".join(self._part_values(p)) for p in parts)]
        # Each field: [text, whether it exists even when empty (a quoted '' does)]
        fields: list[list] = [["", False]]
        for part in parts:
            if isinstance(part, Lit):
                fields[-1][0] += part.text
                fields[-1][1] = fields[-1][1] or part.quoted or bool(part.text)
                continue
            values = self._part_values(part)
            if part.quoted and isinstance(part, Param) and part.index == "@":
                if values:  # "${a[@]}": one field per element
                    fields[-1][0] += values[0]
                    fields[-1][1] = True
                    fields += [[value, True] for value in values[1:]]
                continue
            joined = " ".join(values)
            if part.quoted:
                fields[-1][0] += joined
                fields[-1][1] = True
                continue
            pieces = joined.split()  # an unquoted expansion is split into fields
            if not pieces:
                if joined and fields[-1][1]:
                    fields.append(["", False])
                continue
            if joined[:1].isspace() and fields[-1][1]:
                fields.append(["", False])
            fields[-1][0] += pieces[0]
            fields[-1][1] = True
            fields += [[piece, True] for piece in pieces[1:]]
            if joined[-1:].isspace():
                fields.append(["", False])
        return [text for text, exists in fields if exists]

    def _lookup(self, name: str) -> Value:
        value = self.env.get(name)
        if isinstance(value, Unknown):
            raise ShellError(f"${name} is not known: {value.reason}", root=value.reason)
        if value is None:
            raise ShellError(f"${name} is not set")
        return value

    def _part_values(self, part: Param | Command) -> list[str]:
        if isinstance(part, Command):
            return [_command_substitution(part, self)]
        if part.op in (":-", "-", ":+", "+", ":=", "=", ":?", "?"):
            value = self.env.get(part.name)
            if isinstance(value, Unknown):
                raise ShellError(f"${part.name} is not known: {value.reason}", root=value.reason)
            is_set = value is not None
            empty = not is_set or value in ("", [])
            use_arg = {":-": empty, "-": not is_set, ":=": empty, "=": not is_set,
                       ":+": not empty, "+": is_set}.get(part.op)
            if part.op in (":?", "?"):
                if empty:
                    raise ShellError(f"${{{part.name}{part.op}…}}: {part.name} is not set")
                use_arg = False
            if part.op in (":+", "+"):
                return [self._text(part.arg)] if use_arg else []
            if use_arg:
                return [self._text(part.arg)]
        value = self._lookup(part.name)
        if part.op == "len":
            return [str(len(value) if isinstance(value, list) else len(value))]
        if isinstance(value, list):
            if part.index in ("@", "*"):
                items = list(value)
            elif part.index is not None:
                if not part.index.isdigit():
                    raise ShellError(f"${{{part.name}[{part.index}]}}: index not understood")
                position = int(part.index)
                items = [value[position]] if position < len(value) else []
            else:
                items = value[:1]
        else:
            items = [value] if part.index in (None, "@", "*", "0") else []
        return [self._apply(part, item) for item in items]

    def _apply(self, part: Param, value: str) -> str:
        op = part.op
        if op in (None, ":-", "-", ":=", "=", ":?", "?"):
            return value
        if op in ("^^", ",,", "^", ","):
            if part.arg:
                raise ShellError(f"${{{part.name}{op}pattern}}: case change with a pattern is not evaluated")
            if op == "^^":
                return value.upper()
            if op == ",,":
                return value.lower()
            return (value[:1].upper() if op == "^" else value[:1].lower()) + value[1:]
        if op == ":":
            offset = self._number(part.arg)
            start = offset if offset >= 0 else max(0, len(value) + offset)
            if part.arg2 is None:
                return value[start:]
            length = self._number(part.arg2)
            return value[start:start + length] if length >= 0 else value[start:len(value) + length]
        pattern = self._pattern(part.arg)
        if op in ("#", "##"):
            return _strip(value, pattern, prefix=True, longest=op == "##")
        if op in ("%", "%%"):
            return _strip(value, pattern, prefix=False, longest=op == "%%")
        replacement = self._text(part.arg2 or ())
        if not part.arg:
            return value
        if op == "/#":
            match = re.match(pattern, value)
            return replacement + value[match.end():] if match else value
        if op == "/%":
            for start in range(len(value) + 1):
                if re.fullmatch(pattern, value[start:]):
                    return value[:start] + replacement
            return value
        compiled = re.compile(pattern)
        out, position, count = [], 0, 0
        while position <= len(value):
            match = _longest_at(compiled, value, position)
            if match is not None and match > position and (op == "//" or count == 0):
                out.append(replacement)
                position = match
                count += 1
                continue
            if position < len(value):
                out.append(value[position])
            position += 1
        return "".join(out)

    def _number(self, parts) -> int:
        text = self._text(parts).strip()
        if not re.fullmatch(r"-?\d+", text.replace(" ", "")):
            raise ShellError(f"offset {text!r} is arithmetic, which is not evaluated")
        return int(text.replace(" ", ""))

    def _text(self, parts) -> str:
        out = []
        for part in parts:
            if isinstance(part, Lit):
                out.append(part.text if part.quoted else _unescape(part.text))
            else:
                out.append(" ".join(self._part_values(part)))
        return "".join(out)

    def _pattern(self, parts) -> str:
        """A bash glob pattern as a regex: quoted text is literal, the rest is glob."""
        out = []
        for part in parts:
            if isinstance(part, Lit):
                out.append(re.escape(part.text) if part.quoted else _glob(part.text))
            else:
                text = " ".join(self._part_values(part))
                out.append(re.escape(text) if part.quoted else _glob(text))
        return "".join(out)


def _check_size(value: Value) -> None:
    items = value if isinstance(value, list) else [value]
    if len(items) > MAX_FIELDS:
        raise ShellError(f"more than {MAX_FIELDS} words")
    if sum(map(len, items)) > MAX_VALUE_CHARS:
        raise ShellError(f"longer than {MAX_VALUE_CHARS:,} characters")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _glob(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(re.escape(text[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            end = text.find("]", i + 2)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = text[i + 1:end]
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                body = re.sub(r"\[:(\w+):\]", lambda m: _POSIX_CLASSES.get(m.group(1), m.group(0)), body)
                out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
                i = end + 1
                continue
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


_POSIX_CLASSES = {"digit": "0-9", "alpha": "A-Za-z", "alnum": "A-Za-z0-9", "upper": "A-Z", "lower": "a-z",
                  "space": r" \t\n", "xdigit": "0-9A-Fa-f", "punct": r"!-/:-@\[-`{-~"}


def _strip(value: str, pattern: str, prefix: bool, longest: bool) -> str:
    lengths = range(len(value), -1, -1) if longest else range(len(value) + 1)
    for length in lengths:
        piece = value[:length] if prefix else value[len(value) - length:]
        if re.fullmatch(pattern, piece, re.DOTALL):
            return value[length:] if prefix else value[:len(value) - length]
    return value


def _longest_at(compiled: re.Pattern, value: str, position: int) -> int | None:
    for end in range(len(value), position, -1):
        if compiled.fullmatch(value, position, end):
            return end
    return None


def _brace_expand(word: list[Part]) -> list[list[Part]]:
    """Brace expansion over the unquoted literal characters of a word: a{b,c}d, {1..3}."""
    tokens: list[Part | str] = []
    for part in word:
        if isinstance(part, Lit) and not part.quoted:
            i = 0
            while i < len(part.text):  # an escaped brace or comma stays literal
                if part.text[i] == "\\" and i + 1 < len(part.text):
                    tokens.append(Lit(part.text[i + 1], True))
                    i += 2
                    continue
                tokens.append(part.text[i])
                i += 1
        else:
            tokens.append(part)
    results = _expand_tokens(tokens)
    out = []
    for tokens_out in results:
        parts: list[Part] = []
        for token in tokens_out:
            if isinstance(token, str):
                if parts and isinstance(parts[-1], Lit) and not parts[-1].quoted:
                    parts[-1] = Lit(parts[-1].text + token, False)
                else:
                    parts.append(Lit(token, False))
            else:
                parts.append(token)
        out.append(parts)
    return out


def _expand_tokens(tokens: list, budget: list[int] | None = None) -> list[list]:
    budget = budget if budget is not None else [MAX_FIELDS]
    for start, token in enumerate(tokens):
        if token != "{":
            continue
        depth, commas, end = 0, [], None
        for i in range(start, len(tokens)):
            if tokens[i] == "{":
                depth += 1
            elif tokens[i] == "}":
                depth -= 1
                if depth == 0:
                    end = i
                    break
            elif tokens[i] == "," and depth == 1:
                commas.append(i)
        if end is None:
            return [tokens]
        prefix, suffix = tokens[:start], tokens[end + 1:]
        if commas:
            bounds = [start] + commas + [end]
            alternatives = [tokens[a + 1:b] for a, b in zip(bounds, bounds[1:])]
        else:
            inner = "".join(t for t in tokens[start + 1:end] if isinstance(t, str))
            sequence = re.fullmatch(r"(-?\d+)\.\.(-?\d+)", inner) if all(
                isinstance(t, str) for t in tokens[start + 1:end]) else None
            if not sequence:
                continue
            a, b = int(sequence.group(1)), int(sequence.group(2))
            if abs(b - a) >= MAX_FIELDS:
                raise ShellError(f"brace expansion {{{a}..{b}}} makes more than {MAX_FIELDS} words")
            step = 1 if b >= a else -1
            alternatives = [list(str(n)) for n in range(a, b + step, step)]
        out = []
        for alternative in alternatives:
            out += _expand_tokens(prefix + alternative + suffix, budget)
        return out
    budget[0] -= 1
    if budget[0] < 0:
        raise ShellError(f"brace expansion makes more than {MAX_FIELDS} words")
    return [tokens]


# --- Gentoo's version functions (PMS, "ver_cut" and "ver_rs") ---------------------------------------

def _version_components(version: str) -> tuple[list[str], list[str]]:
    """Separators and components, alternating: sep0 comp1 sep1 comp2 … (sep0 may be empty)."""
    pieces = re.findall(r"[0-9]+|[A-Za-z]+|[^0-9A-Za-z]+", version)
    separators, components = [""], []
    for piece in pieces:
        if piece[0].isalnum():
            if len(components) == len(separators):
                separators.append("")
            components.append(piece)
        else:
            if len(separators) > len(components):
                separators[-1] += piece
            else:
                separators.append(piece)
    return separators, components


def _range(spec: str, maximum: int) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)(?:(-)(\d+)?)?", spec)
    if not match:
        raise ShellError(f"version range {spec!r} not understood")
    first = int(match.group(1))
    last = first if not match.group(2) else int(match.group(3)) if match.group(3) else maximum
    return first, last


def ver_cut(spec: str, version: str) -> str:
    separators, components = _version_components(version)
    first, last = _range(spec, len(components))
    out = []
    for number in range(first, min(last, len(components)) + 1):
        if number > first:
            out.append(separators[number - 1])
        out.append(components[number - 1])
    return "".join(out)


def ver_rs(arguments: list[str], version: str) -> str:
    separators, components = _version_components(version)
    for spec, replacement in zip(arguments[::2], arguments[1::2]):
        first, last = _range(spec, len(separators))
        for number in range(first, min(last, len(separators) - 1) + 1):
            if number >= 1:
                separators[number] = replacement
    out = [separators[0]] if separators else []
    for number, component in enumerate(components, 1):
        out.append(component)
        if number < len(separators):
            out.append(separators[number])
    return "".join(out)


def _command_substitution(text: Command | str, evaluator: _Evaluator) -> str:
    """Only ver_cut and ver_rs, whose result is a pure function of their words, are evaluated."""
    if isinstance(text, Command):
        if text.backticks:
            raise ShellError(f"`{' '.join(text.text.split())}` is a command substitution, which is not run")
        text = text.text
    reader = _Reader(text.strip(), evaluator.env)
    words: list[str] = []
    try:
        while True:
            reader._skip_blanks()
            if reader.pos >= reader.n:
                break
            if reader.text[reader.pos] in ";&|<>()\n":
                raise ShellError(f"$({text.strip()}) is not run")
            words += evaluator.fields(reader._word(), array_context=True)
    except _Syntax as exc:
        raise ShellError(f"$({text.strip()}): {exc}") from None
    if words and words[0] == "ver_cut" and len(words) in (2, 3):
        version = words[2] if len(words) == 3 else _pv(evaluator)
        return ver_cut(words[1], version)
    if words and words[0] == "ver_rs" and len(words) >= 3:
        arguments = words[1:]
        version = arguments.pop() if len(arguments) % 2 else _pv(evaluator)
        return ver_rs(arguments, version)
    raise ShellError(f"$({' '.join(text.split())}) is a command substitution, which is not run")


def _pv(evaluator: _Evaluator) -> str:
    value = evaluator.env.get("PV")
    if not isinstance(value, str):
        raise ShellError("ver_cut/ver_rs without a version, and PV is not set")
    return value
