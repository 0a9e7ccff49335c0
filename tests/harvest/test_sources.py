"""The sources table is data: every entry can be followed and says where its facts came from;
an entry that cannot be followed is refused when the table is read, naming it."""
from __future__ import annotations

import pytest

from archive.intake.harvest.sources import BadTable, parse_table, table

GOOD = """
[[source]]
id = "x"
product = "X"
files = ['{appdata}/X/x.key']
decode = "licence-file"
kind = "licence-file"
facts = "X's manual."
"""


def test_every_entry_says_where_its_facts_came_from() -> None:
    t = table()
    assert len(t.sources) >= 15 and t.generic_keys and t.accounts
    for s in t.sources:
        assert len(s.facts) >= 40, s.id
        assert s.decode != "none" or s.reason, s.id
    third_party = {s.product for s in t.sources if s.vendor != "Microsoft"}
    assert len(third_party) >= 6


@pytest.mark.parametrize("change, said", [
    (('decode = "licence-file"', 'decode = "rot13"'), "decode 'rot13'"),
    (('facts = "X\'s manual."', ""), "'facts' is missing"),
    (("files = ['{appdata}/X/x.key']", "files = ['/etc/x.key']"), "starts with none of"),
    (('kind = "licence-file"', 'kind = "stolen"'), "not a licence kind"),
    (('kind = "licence-file"', 'kind = "licence-file"\nflavour = "mint"'), "unknown field(s) flavour"),
    (('decode = "licence-file"', 'decode = "none"'), "says why"),
    (('decode = "licence-file"', 'decode = "text-field"'), "names its field"),
    (("files = ['{appdata}/X/x.key']", "files = ['{appdata}/X/x.key']\nkeys = ['A\\\\B']\nhive = 'SOFTWARE'"),
     "either keys"),
])
def test_an_entry_that_cannot_be_followed_is_refused(change: tuple[str, str], said: str) -> None:
    assert parse_table(GOOD).sources[0].id == "x"
    with pytest.raises(BadTable, match=r"source x: .*" + __import__("re").escape(said)):
        parse_table(GOOD.replace(*change))
