"""Text a person typed, shown as text: made literal inside Markdown, so that a name is never a link or markup."""

MARKDOWN_SPECIAL = frozenset("\\`*_{}[]()#+-.!|<>~$:&=\"'@/")


def as_text(text: str) -> str:
    """Text a person typed, made literal inside Markdown: no link, image, emphasis, icon or shortcode survives.

    Backslash escapes stop the Markdown; a zero-width space after ':', '@' and '.' stops the automatic links
    that GitHub-flavoured Markdown makes of bare addresses (http://..., www...., a@b.c), which escapes do not.
    """
    return "".join(f"\\{ch}\u200b" if ch in ":@." else f"\\{ch}" if ch in MARKDOWN_SPECIAL else ch
                   for ch in str(text))
