"""What the simulated account can buy: countries, states, regions, prices, number formats.

The lists the vendor publishes (docs/vendor-api.md) are reproduced exactly and in the
published order: the supported countries for geographic and national numbers, Canada's states,
Manitoba's regions, Canada's toll-free prefixes. Everything else is plausible rather than
authoritative: real calling codes and area codes, prices of the right order, a country that
needs a regulation address (France, and Italy), a region with only a few numbers left
(Oakbank, Manitoba) so that ``allow_partial`` can be exercised.

A region is a name for geographic numbers and a number prefix for national, mobile and
toll-free numbers, as the API has it. Every region knows the digits its numbers start with
(country code included) and how long they are.
"""

from __future__ import annotations

from dataclasses import dataclass

DID_TYPES: tuple[str, ...] = ("geographic", "national", "mobile", "tollfree")

# Numbers left to buy in a region unless it says otherwise.
DEFAULT_STOCK = 5000


@dataclass(frozen=True, slots=True)
class Region:
    """One place (or prefix) numbers are sold at."""

    name: str
    prefix: str  # the digits every number here starts with, country code included
    stock: int = DEFAULT_STOCK
    # Toll-free only: the call types this prefix may accept (the API refuses the others).
    allowed_callers: frozenset[str] = frozenset({"landline", "cellular", "payphone"})


@dataclass(frozen=True, slots=True)
class Country:
    """A country: its calling code, the length of its numbers, its states and regions."""

    name: str
    calling_code: str
    length: int  # total digits of a full international number
    # did_type -> state ("" when the country has no states) -> regions, in published order
    regions: dict[str, dict[str, tuple[Region, ...]]]
    states: tuple[str, ...] = ()
    needs_regulation_address: bool = False
    prices: tuple[tuple[str, str], ...] = ()  # (did_type, USD per month), overriding defaults

    def price(self, did_type: str) -> str:
        for kind, price in self.prices:
            if kind == did_type:
                return price
        return DEFAULT_PRICES[did_type]

    def regions_of(self, did_type: str, state: str | None) -> tuple[Region, ...]:
        """Regions of one state, or of every state when ``state`` is None."""
        by_state = self.regions.get(did_type, {})
        if state is None:
            return tuple(r for regions in by_state.values() for r in regions)
        return by_state.get(state, ())

    def find_region(self, did_type: str, state: str | None, name: str) -> tuple[str, Region] | None:
        """The (state, region) called ``name`` (case-insensitive), in ``state`` if given."""
        wanted = name.casefold()
        for st, regions in self.regions.get(did_type, {}).items():
            if state is not None and st.casefold() != state.casefold():
                continue
            for region in regions:
                if region.name.casefold() == wanted:
                    return st, region
        return None


DEFAULT_PRICES = {"geographic": "4.00", "national": "6.00", "mobile": "9.00", "tollfree": "20.00"}

# The published lists, in the published order.
GEOGRAPHIC_COUNTRIES: tuple[str, ...] = (
    "Israel", "Georgia", "Mexico", "Lithuania", "United Kingdom", "Netherlands",
    "Croatia", "Greece", "Switzerland", "Dominican Republic", "Brazil", "Romania",
    "Czech Republic", "El Salvador", "Poland", "South Africa", "Luxembourg", "Sweden",
    "Germany", "Peru", "Puerto Rico", "Hungary", "Norway", "Spain", "Canada", "Italy",
    "Denmark", "Finland", "United States", "Slovenia", "Ireland", "Argentina",
    "Cyprus", "Australia", "France", "New Zealand", "Latvia", "Slovakia", "Chile",
    "Belgium", "Japan", "Bulgaria",
)  # fmt: skip
NATIONAL_COUNTRIES: tuple[str, ...] = (
    "Israel", "Georgia", "Portugal", "South Africa", "United Kingdom", "Netherlands",
    "Singapore", "Austria", "Luxembourg", "Sweden", "Germany", "Norway", "Spain",
    "Finland", "Malta", "Slovenia", "Ireland", "Bahrain", "Estonia", "Hong Kong",
    "Panama", "France", "Belgium",
)  # fmt: skip
MOBILE_COUNTRIES: tuple[str, ...] = (
    "United Kingdom", "Germany", "Netherlands", "Sweden", "Belgium", "Finland",
)  # fmt: skip
TOLLFREE_COUNTRIES: tuple[str, ...] = (
    "United Kingdom", "Canada", "United States", "Spain", "Germany", "France", "Ireland",
    "Australia",
)  # fmt: skip

COUNTRY_ORDER: dict[str, tuple[str, ...]] = {
    "geographic": GEOGRAPHIC_COUNTRIES,
    "national": NATIONAL_COUNTRIES,
    "mobile": MOBILE_COUNTRIES,
    "tollfree": TOLLFREE_COUNTRIES,
}

CANADA_STATES: tuple[str, ...] = (
    "British Columbia", "Newfoundland And Labrador", "Saskatchewan", "Prince Edward Island",
    "Ontario", "Nova Scotia", "Quebec", "Alberta", "Manitoba", "New Brunswick",
)  # fmt: skip
US_STATES: tuple[str, ...] = (
    "California", "New York", "Texas", "Illinois", "Washington", "Florida", "Massachusetts",
)  # fmt: skip

# Calling code and number length (country code included) of every country in any list.
_CODES: dict[str, tuple[str, int]] = {
    "Argentina": ("54", 12), "Australia": ("61", 11), "Austria": ("43", 12),
    "Bahrain": ("973", 11), "Belgium": ("32", 10), "Brazil": ("55", 12),
    "Bulgaria": ("359", 11), "Canada": ("1", 11), "Chile": ("56", 11),
    "Croatia": ("385", 11), "Cyprus": ("357", 11), "Czech Republic": ("420", 12),
    "Denmark": ("45", 10), "Dominican Republic": ("1", 11), "El Salvador": ("503", 11),
    "Estonia": ("372", 10), "Finland": ("358", 12), "France": ("33", 11),
    "Georgia": ("995", 12), "Germany": ("49", 12), "Greece": ("30", 12),
    "Hong Kong": ("852", 11), "Hungary": ("36", 10), "Ireland": ("353", 11),
    "Israel": ("972", 11), "Italy": ("39", 12), "Japan": ("81", 12),
    "Latvia": ("371", 11), "Lithuania": ("370", 11), "Luxembourg": ("352", 11),
    "Malta": ("356", 11), "Mexico": ("52", 12), "Netherlands": ("31", 11),
    "New Zealand": ("64", 10), "Norway": ("47", 10), "Panama": ("507", 10),
    "Peru": ("51", 10), "Poland": ("48", 11), "Portugal": ("351", 12),
    "Puerto Rico": ("1", 11), "Romania": ("40", 11), "Singapore": ("65", 10),
    "Slovakia": ("421", 12), "Slovenia": ("386", 11), "South Africa": ("27", 11),
    "Spain": ("34", 11), "Sweden": ("46", 11), "Switzerland": ("41", 11),
    "United Kingdom": ("44", 12), "United States": ("1", 11),
}  # fmt: skip

# Geographic regions: (name, area digits after the calling code) per country without states.
_GEOGRAPHIC: dict[str, tuple[tuple[str, str], ...]] = {
    "Israel": (("Jerusalem", "2"), ("Tel Aviv", "3"), ("Haifa", "4")),
    "Georgia": (("Tbilisi", "32"),),
    "Mexico": (("Mexico City", "55"), ("Guadalajara", "33"), ("Monterrey", "81")),
    "Lithuania": (("Vilnius", "5"),),
    "United Kingdom": (
        ("London", "207"), ("Milton Keynes", "1908"), ("Manchester", "161"),
        ("Birmingham", "121"), ("Leeds", "113"), ("Edinburgh", "131"), ("Cambridge", "1223"),
        ("Glasgow", "141"),
    ),
    "Netherlands": (("Amsterdam", "20"), ("Rotterdam", "10")),
    "Croatia": (("Zagreb", "1"),),
    "Greece": (("Athens", "21"),),
    "Switzerland": (("Zurich", "44"), ("Geneva", "22")),
    "Dominican Republic": (("Santo Domingo", "809"),),
    "Brazil": (("Sao Paulo", "11"), ("Rio de Janeiro", "21")),
    "Romania": (("Bucharest", "21"),),
    "Czech Republic": (("Prague", "2"),),
    "El Salvador": (("San Salvador", "2"),),
    "Poland": (("Warsaw", "22"), ("Krakow", "12")),
    "South Africa": (("Johannesburg", "11"), ("Cape Town", "21")),
    "Luxembourg": (("Luxembourg", "2"),),
    "Sweden": (("Stockholm", "8"), ("Gothenburg", "31")),
    "Germany": (
        ("Berlin", "30"), ("Munich", "89"), ("Hamburg", "40"), ("Mönchengladbach", "2161"),
        ("Köln", "221"),
    ),
    "Peru": (("Lima", "1"),),
    "Puerto Rico": (("San Juan", "787"),),
    "Hungary": (("Budapest", "1"),),
    "Norway": (("Oslo", "22"),),
    "Spain": (("Madrid", "91"), ("Barcelona", "93"), ("Bilbao", "944"), ("Málaga", "952")),
    "Italy": (("Rome", "06"), ("Milan", "02")),
    "Denmark": (("Copenhagen", "3"),),
    "Finland": (("Helsinki", "9"),),
    "Slovenia": (("Ljubljana", "1"),),
    "Ireland": (("Dublin", "1"), ("Cork", "21")),
    "Argentina": (("Buenos Aires", "11"),),
    "Cyprus": (("Nicosia", "22"),),
    "Australia": (("Sydney", "2"), ("Melbourne", "3")),
    "France": (("Paris", "1"), ("Avignon", "4"), ("Lyon", "47")),
    "New Zealand": (("Auckland", "9"), ("Wellington", "4")),
    "Latvia": (("Riga", "6"),),
    "Slovakia": (("Bratislava", "2"),),
    "Chile": (("Santiago", "2"),),
    "Belgium": (("Brussels", "2"), ("Antwerp", "3")),
    "Japan": (("Tokyo", "3"), ("Osaka", "6")),
    "Bulgaria": (("Sofia", "2"),),
}  # fmt: skip

_CANADA: dict[str, tuple[tuple[str, str], ...]] = {
    "British Columbia": (("Vancouver", "604"), ("Victoria", "250")),
    "Newfoundland And Labrador": (("St. John's", "709"),),
    "Saskatchewan": (("Regina", "306"), ("Saskatoon", "639")),
    "Prince Edward Island": (("Charlottetown", "902"),),
    "Ontario": (("Toronto", "416"), ("Ottawa", "613")),
    "Nova Scotia": (("Halifax", "782"),),
    "Quebec": (("Montreal", "514"), ("Quebec City", "418")),
    "Alberta": (("Calgary", "587"), ("Edmonton", "780")),
    "Manitoba": (("Oakbank", "204"), ("Winnipeg", "204")),
    "New Brunswick": (("Moncton", "506"),),
}
_US: dict[str, tuple[tuple[str, str], ...]] = {
    "California": (("Los Angeles", "213"), ("San Francisco", "415")),
    "New York": (("New York", "212"),),
    "Texas": (("Austin", "512"), ("Houston", "713")),
    "Illinois": (("Chicago", "312"),),
    "Washington": (("Seattle", "206"),),
    "Florida": (("Miami", "305"),),
    "Massachusetts": (("Boston", "617"),),
}

# National and mobile prefixes (the region *is* the prefix, after the calling code).
_NATIONAL: dict[str, tuple[str, ...]] = {
    "Israel": ("72",), "Georgia": ("706",), "Portugal": ("30",), "South Africa": ("87",),
    "United Kingdom": ("330", "333", "345"), "Netherlands": ("85",), "Singapore": ("3",),
    "Austria": ("720",), "Luxembourg": ("20",), "Sweden": ("10",), "Germany": ("32",),
    "Norway": ("85",), "Spain": ("51",), "Finland": ("75",), "Malta": ("27",),
    "Slovenia": ("82",), "Ireland": ("76",), "Bahrain": ("16",), "Estonia": ("6",),
    "Hong Kong": ("3",), "Panama": ("8",), "France": ("9",), "Belgium": ("78",),
}  # fmt: skip
_MOBILE: dict[str, tuple[str, ...]] = {
    "United Kingdom": ("7",), "Germany": ("15",), "Netherlands": ("6",), "Sweden": ("76",),
    "Belgium": ("4",), "Finland": ("45",),
}  # fmt: skip
# Toll-free prefixes, with the call types each may accept.
_ALL_CALLERS = frozenset({"landline", "cellular", "payphone"})
_NO_CELL = frozenset({"landline", "payphone"})
_TOLLFREE: dict[str, tuple[tuple[str, frozenset[str]], ...]] = {
    "United Kingdom": (("800", _ALL_CALLERS), ("808", _ALL_CALLERS)),
    "Canada": (("855", _ALL_CALLERS), ("888", _ALL_CALLERS), ("866", _ALL_CALLERS),
               ("877", _ALL_CALLERS)),
    "United States": (("800", _ALL_CALLERS), ("833", _ALL_CALLERS), ("844", _ALL_CALLERS),
                      ("855", _ALL_CALLERS), ("866", _ALL_CALLERS), ("877", _ALL_CALLERS),
                      ("888", _ALL_CALLERS)),
    "Spain": (("900", _ALL_CALLERS), ("901", _NO_CELL)),
    "Germany": (("800", _ALL_CALLERS),),
    "France": (("800", _NO_CELL),),
    "Ireland": (("1800", _NO_CELL),),
    "Australia": (("1800", _ALL_CALLERS),),
}  # fmt: skip

_PRICES: dict[str, tuple[tuple[str, str], ...]] = {
    "United Kingdom": (("geographic", "3.00"), ("national", "5.00"), ("mobile", "8.00"),
                       ("tollfree", "15.00")),
    "Canada": (("geographic", "2.00"), ("tollfree", "4.00")),
    "United States": (("geographic", "1.50"), ("tollfree", "3.00")),
    "Spain": (("geographic", "4.50"), ("national", "5.50"), ("tollfree", "12.00")),
    "Germany": (("geographic", "4.50"),),
    "France": (("geographic", "6.00"), ("national", "7.00")),
}  # fmt: skip

# Regions with little left, so that quantity and allow_partial can be exercised.
_SMALL_STOCK: dict[tuple[str, str], int] = {("Canada", "Oakbank"): 3, ("Spain", "901"): 50}

REGULATED_COUNTRIES = frozenset({"France", "Italy"})


def _region(country: str, name: str, digits: str, **kw: frozenset[str]) -> Region:
    code = _CODES[country][0]
    stock = _SMALL_STOCK.get((country, name), DEFAULT_STOCK)
    return Region(name=name, prefix=code + digits, stock=stock, **kw)


def _build() -> dict[str, Country]:
    names = {n for order in COUNTRY_ORDER.values() for n in order}
    out: dict[str, Country] = {}
    for name in sorted(names):
        code, length = _CODES[name]
        regions: dict[str, dict[str, tuple[Region, ...]]] = {}
        states: tuple[str, ...] = ()
        if name in ("Canada", "United States"):
            by_state = _CANADA if name == "Canada" else _US
            states = CANADA_STATES if name == "Canada" else US_STATES
            regions["geographic"] = {
                st: tuple(_region(name, n, d) for n, d in by_state[st]) for st in states
            }
        elif name in _GEOGRAPHIC:
            regions["geographic"] = {"": tuple(_region(name, n, d) for n, d in _GEOGRAPHIC[name])}
        if name in _NATIONAL:
            regions["national"] = {"": tuple(_region(name, p, p) for p in _NATIONAL[name])}
        if name in _MOBILE:
            regions["mobile"] = {"": tuple(_region(name, p, p) for p in _MOBILE[name])}
        if name in _TOLLFREE:
            regions["tollfree"] = {
                "": tuple(_region(name, p, p, allowed_callers=c) for p, c in _TOLLFREE[name])
            }
        out[name] = Country(
            name=name,
            calling_code=code,
            length=length,
            regions=regions,
            states=states,
            needs_regulation_address=name in REGULATED_COUNTRIES,
            prices=_PRICES.get(name, ()),
        )
    return out


COUNTRIES: dict[str, Country] = _build()
_BY_FOLDED = {name.casefold(): c for name, c in COUNTRIES.items()}


def find_country(name: str) -> Country | None:
    """The country called ``name`` (case-insensitive)."""
    return _BY_FOLDED.get(name.casefold())


def countries(did_type: str) -> list[str]:
    """The supported countries for ``did_type``, in the published order."""
    return list(COUNTRY_ORDER.get(did_type, ()))
