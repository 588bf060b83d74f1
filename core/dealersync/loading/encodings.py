"""An extract file's text encoding, and its conversion to what DuckDB reads: UTF-8.

DuckDB's CSV reader knows UTF-8 (with or without a byte order mark), UTF-16 and Latin-1 only
(DuckDB 2.0; its ``encodings`` extension would download at run time, which the loader never
does), and it stops on a file whose line ends are mixed (``\\n`` and ``\\r\\n``, measured:
"The CSV Parser state machine reached an invalid state"). A file it cannot read as it is gets
a UTF-8 copy (:mod:`dealersync.loading.copies`), with LF line ends when its own are mixed,
written block by block in the loader's own byte scan
(:func:`dealersync.loading.lines.scan_file`): one output line per input line, so physical line
numbers stay those of the original.

Which encoding (documented in docs/data-model.md, "Encodings and line ends"):

* a byte order mark decides (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE; the Unicode Standard, 23.8
  "Specials: Byte Order Mark"); it wins over the ``encoding`` option, with a warning;
* else the ``encoding`` option, any text encoding Python's codecs know;
* else a header whose every other byte is NUL is UTF-16 without a mark (an ASCII header in
  UTF-16 has exactly that shape);
* else UTF-8, and a file that is not valid UTF-8 but decodes as Windows-1252 (every byte but
  0x81, 0x8D, 0x8F, 0x90, 0x9D, which Microsoft's table leaves undefined: Python's ``cp1252``
  codec is generated from unicode.org's MAPPINGS/VENDORS/MICSFT/WINDOWS/CP1252.TXT; the WHATWG
  Encoding Standard instead maps them to the C1 controls U+0081...: the sources disagree, and a
  file holding one is not taken for Windows-1252 here) is read as Windows-1252, with a warning
  naming the option. Not Latin-1: it reads 0x80-0x9F as control characters, where Windows-1252 has
  ’ – — € … (DMS report writers on Windows write Windows-1252). A file that also holds UTF-8
  sequences (``é`` as C3 A9) mixes encodings: read as Windows-1252 its UTF-8 names would turn
  into ``Ã©``, so it stays UTF-8 and its lines that are not are quarantined, with a warning.

Excel's "Unicode Text (*.txt)" is UTF-16 LE with a byte order mark, tab-delimited, CRLF
(Microsoft does not document the format; observed in a hex dump by H. Yang, "Saving Files in
'Unicode Text (*.txt)' Option", herongyang.com/Unicode/Excel-Save-File-in-Unicode-Text-txt.html;
the delimiter is still the ``delimiter`` option). Bytes that are not valid in a named encoding other than UTF-8
are replaced by U+FFFD and counted in a warning; UTF-8 stays strict: DuckDB quarantines the
lines that are not UTF-8, with their line and column.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from dealersync.errors import ConfigError

UTF8 = "utf-8"
CP1252 = "cp1252"

#: Byte order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, UTF8),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: A codec that reads its byte order from a mark, and the order assumed without one
#: (Windows writes little-endian).
_WITHOUT_BOM = {"utf-16": "utf-16-le", "utf-32": "utf-32-le", "utf-8-sig": UTF8}
_LABELS = {UTF8: "UTF-8", CP1252: "Windows-1252", "iso8859-1": "Latin-1"}


@dataclass(frozen=True)
class Encoding:
    """How a file's bytes are read."""

    codec: str  # a Python codec name, canonical ("utf-8", "cp1252", "utf-16-le", ...)
    bom: int = 0  # bytes of byte order mark at the start of the file
    #: UTF-8 by default, not chosen: a file that is not UTF-8 may turn out Windows-1252
    detect: bool = False

    @property
    def is_utf8(self) -> bool:
        return self.codec == UTF8

    @property
    def label(self) -> str:
        return _LABELS.get(self.codec, self.codec)


def codec_name(name: str, where: str) -> str:
    """The canonical Python codec name of a text encoding, or a ConfigError naming ``where``."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise ConfigError(
            f"{where}: encoding {name!r} is not a text encoding Python knows"
            " (e.g. utf-8, cp1252, latin-1, utf-16)"
        )
    return info.name


def file_encoding(option: str | None, head: bytes, where: str) -> tuple[Encoding, list[str]]:
    """The encoding of a file starting with ``head``, and warnings (a mark that overrides the
    option). ``option`` is the ``encoding`` option (None: detect)."""
    codec = codec_name(option, where) if option else None
    for bom, bom_codec in _BOMS:
        if head.startswith(bom):
            warnings = []
            if codec is not None and _family(codec) != _family(bom_codec):
                label = _LABELS.get(bom_codec, bom_codec)
                warnings.append(
                    f"starts with a {label} byte order mark: read as {label}, not as"
                    f' encoding = "{option}" says'
                )
            return Encoding(bom_codec, bom=len(bom)), warnings
    if codec is not None:
        return Encoding(_WITHOUT_BOM.get(codec, codec)), []
    utf16 = _utf16_without_bom(head)
    if utf16:
        return Encoding(utf16), []
    return Encoding(UTF8, detect=True), []


def _family(codec: str) -> str:
    """"utf-16" for utf-16, utf-16-le and utf-16-be (and alike); other codecs as they are."""
    return "-".join(codec.split("-")[:2]) if codec.startswith("utf-") else codec


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 LE or BE when every other byte of the first line is NUL (an ASCII header)."""
    first = head[:256]
    end = min(
        (i for i in (first.find(b"\n\x00"), first.find(b"\x00\n")) if i > 0),
        default=len(first),
    )
    sample = first[: end - end % 2]
    if len(sample) < 4:
        return None
    if not any(sample[1::2]) and all(sample[0::2]):
        return "utf-16-le"
    if not any(sample[0::2]) and all(sample[1::2]):
        return "utf-16-be"
    return None


def has_utf8_sequences(data: bytes | memoryview) -> bool:
    """Whether ``data`` holds a UTF-8 encoded character beyond ASCII (its invalid bytes
    dropped, what is left is not ASCII). Windows-1252 text rarely does: a letter from Â to ô
    followed by one or more of € ‚ ƒ „ … ’ “ ” • – — ¡ to ¿."""
    return not codecs.utf_8_decode(data, "ignore", True)[0].isascii()


def first_invalid_utf8(data: bytes | memoryview, final: bool = True) -> int | None:
    """Offset of the first byte of ``data`` that is not valid UTF-8 (None if all are; with
    ``final`` False, a sequence cut at the end is not counted)."""
    try:
        codecs.utf_8_decode(data, "strict", final)
    except UnicodeDecodeError as e:
        return e.start
    return None


def line_at(data: bytes | bytearray, offset: int) -> int:
    """The 1-based line of ``data`` holding byte ``offset`` (line ends LF, CRLF or CR)."""
    return (
        1
        + data.count(b"\n", 0, offset)
        + data.count(b"\r", 0, offset)
        - data.count(b"\r\n", 0, offset)
    )


def line_in_file(path: Path, offset: int, chunk: int = 16 * 1024 * 1024) -> int:
    """The 1-based line of the file holding byte ``offset``."""
    line = 1
    done = 0
    previous_cr = False
    with path.open("rb") as fh:
        while done < offset:
            block = fh.read(min(chunk, offset - done))
            if not block:
                break
            line += line_at(block, len(block)) - 1
            if previous_cr and block.startswith(b"\n"):
                line -= 1  # a CRLF cut by the block end counted twice
            previous_cr = block.endswith(b"\r")
            done += len(block)
    return line


def cp1252_warning(utf8_error_line: int | None) -> str:
    """The warning of a file read as Windows-1252 because it is not UTF-8."""
    where = f" (first bad byte on line {utf8_error_line})" if utf8_error_line else ""
    return (
        f"not valid UTF-8{where}; loaded as Windows-1252: set encoding = \"cp1252\" to"
        ' silence this (or encoding = "utf-8" to quarantine those lines instead)'
    )


def neither_warning(utf8_error_line: int | None) -> str:
    """The warning of a file that is neither UTF-8 nor Windows-1252, read as UTF-8."""
    where = f" (first bad byte on line {utf8_error_line})" if utf8_error_line else ""
    return (
        f"not valid UTF-8{where}, and not Windows-1252 throughout (another encoding, or"
        " UTF-8 mixed with another): the lines that are not UTF-8 are quarantined; set the"
        ' encoding option if the file is in one encoding (e.g. encoding = "latin-1")'
    )


class Utf8Check:
    """Validates a byte stream fed block by block as UTF-8: :attr:`error_at` is the offset of
    the first invalid byte. A block that is all ASCII costs one C-speed ``isascii``."""

    def __init__(self) -> None:
        self.offset = 0  # bytes taken so far
        self.carry = b""  # a sequence cut by the block end
        self.error_at: int | None = None

    def feed(self, block: bytes | bytearray, n: int) -> None:
        if self.error_at is not None or not n:
            self.offset += n
            return
        view = memoryview(block)[:n]
        start = 0
        if self.carry:
            # Complete the cut sequence with the first bytes of this block (at most 3).
            seam = self.carry + bytes(view[:3])
            try:
                _, used = codecs.utf_8_decode(seam, "strict", False)
            except UnicodeDecodeError as e:
                self.error_at = self.offset - len(self.carry) + e.start
                self.offset += n
                return
            start = max(used - len(self.carry), 0)
            self.carry = b""
        rest = view[start:]
        if not (bytes(rest) if n < len(block) or start else block).isascii():
            try:
                _, used = codecs.utf_8_decode(rest, "strict", False)
            except UnicodeDecodeError as e:
                self.error_at = self.offset + start + e.start
                self.offset += n
                return
            self.carry = bytes(rest[used:])
        self.offset += n

    def finish(self) -> int | None:
        """The first invalid byte's offset, a sequence cut at the end of the file included."""
        if self.error_at is None and self.carry:
            self.error_at = self.offset - len(self.carry)
        return self.error_at


class ToUtf8:
    """Converts blocks of a file to UTF-8; with ``line_ends``, to LF line ends too: ``\\r\\n``
    and a lone ``\\r`` become ``\\n`` (one line each, as before). Consistent CRLF or CR line
    ends need no change (DuckDB reads them) and cost a third of a conversion to change.
    ``strict`` (a detected encoding): raise UnicodeDecodeError on a byte the encoding does not
    define, or on a UTF-8 sequence (the file mixes encodings); else an undefined byte becomes
    U+FFFD, counted in :attr:`replaced`."""

    def __init__(
        self, encoding: Encoding, *, strict: bool, line_ends: bool = False
    ) -> None:
        self.encoding = encoding
        self.strict = strict
        self.line_ends = line_ends
        self.replaced = 0
        self._cr = False  # the last block ended with \r (its \n may open the next block)
        self._skip = encoding.bom
        self._decoder = (
            None
            if encoding.is_utf8
            else codecs.getincrementaldecoder(encoding.codec)("strict")
        )

    def convert(self, block: bytes | bytearray | memoryview, final: bool = False) -> bytes:
        data = memoryview(block)
        if self._skip:
            cut = min(self._skip, len(data))
            data, self._skip = data[cut:], self._skip - cut
        if self._decoder is None:
            out = bytes(data)
        else:
            out = self._decode(data, final).encode(UTF8)
        return self._lf(out, final) if self.line_ends else out

    def _decode(self, data: memoryview, final: bool) -> str:
        assert self._decoder is not None
        if self.strict and has_utf8_sequences(data):  # the file mixes encodings
            raise UnicodeDecodeError(self.encoding.codec, b"", 0, 0, "holds UTF-8 text")
        state = self._decoder.getstate()
        try:
            return self._decoder.decode(data, final)
        except UnicodeDecodeError:
            if self.strict:
                raise
        # Decode the block again, replacing what the encoding does not define.
        self._decoder.setstate(state)
        self._decoder.errors = "replace"
        try:
            text = self._decoder.decode(data, final)
        finally:
            self._decoder.errors = "strict"
        self.replaced += text.count("\ufffd")
        return text

    def _lf(self, data: bytes, final: bool) -> bytes:
        """UTF-8 ``data`` with CRLF and lone CR as LF; a CR at the end waits for the next
        block (it may be the first half of a CRLF)."""
        if self._cr:
            data = b"\r" + data
            self._cr = False
        if data.endswith(b"\r") and not final:
            data, self._cr = data[:-1], True
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return data
