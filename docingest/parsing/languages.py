"""OCR languages: the hosted parse APIs' codes (LlamaCloud's ParsingLanguages) and Tesseract's."""

from __future__ import annotations

import re

from docingest.errors import ConfigError

_TESSERACT_CODE = re.compile(r"^[a-z]{3}(?:_[a-z]+)?$")
# The hosted parse APIs' language codes (LlamaCloud's ParsingLanguages) -> Tesseract's
# traineddata names. Codes without a Tesseract model (ava, che, ...) are refused, not guessed.
SEED_LANGUAGES: dict[str, str] = {
    "af": "afr", "az": "aze", "bs": "bos", "cs": "ces", "cy": "cym", "da": "dan", "de": "deu",
    "en": "eng", "es": "spa", "et": "est", "fr": "fra", "ga": "gle", "hr": "hrv", "hu": "hun",
    "id": "ind", "is": "isl", "it": "ita", "ku": "kmr", "la": "lat", "lt": "lit", "lv": "lav",
    "mi": "mri", "ms": "msa", "mt": "mlt", "nl": "nld", "no": "nor", "oc": "oci", "pl": "pol",
    "pt": "por", "ro": "ron", "rs_latin": "srp_latn", "sk": "slk", "sl": "slv", "sq": "sqi",
    "sv": "swe", "sw": "swa", "tl": "tgl", "tr": "tur", "uz": "uzb", "vi": "vie", "ar": "ara",
    "fa": "fas", "ug": "uig", "ur": "urd", "bn": "ben", "as": "asm", "ru": "rus",
    "rs_cyrillic": "srp", "be": "bel", "bg": "bul", "uk": "ukr", "mn": "mon", "hi": "hin",
    "mr": "mar", "ne": "nep", "sa": "san", "th": "tha", "ch_sim": "chi_sim",
    "ch_tra": "chi_tra", "ja": "jpn", "ko": "kor", "ta": "tam", "te": "tel", "kn": "kan",
}  # fmt: skip
# The parse APIs' codes that no Tesseract model reads (several look like Tesseract's codes).
_NO_TESSERACT_MODEL = frozenset({
    "abq", "ady", "ang", "ava", "bgc", "bh", "bho", "che", "dar", "gom", "inh", "kbd", "lbe",
    "lez", "mah", "mai", "mni", "new", "pi", "sck", "tab", "tjk",
})  # fmt: skip


def tesseract_languages(spec: str) -> str:
    """Languages as Tesseract names them, joined by '+': "en,de" and "eng+deu" -> "eng+deu"."""
    codes = [code.strip() for code in re.split(r"[+,]", spec)]
    if not all(codes):
        raise ConfigError(f"ocr_languages: empty language code in {spec!r}")
    names = []
    for code in codes:
        if code.lower() in _NO_TESSERACT_MODEL:
            raise ConfigError(f"ocr_languages: Tesseract has no model for {code!r}")
        name = SEED_LANGUAGES.get(code.lower(), code)
        if not _TESSERACT_CODE.match(name):
            raise ConfigError(
                f"ocr_languages: unknown language {code!r}; use the parse APIs' codes "
                f"({', '.join(sorted(SEED_LANGUAGES)[:6])}, ...) or Tesseract's (eng, deu, ...)"
            )
        names.append(name)
    return "+".join(dict.fromkeys(names))
