"""Place names, to tell a place from a person when a name is typed (values.names).

Countries, continents, regions and large cities, lowercased. A name any of whose words
is here ("Southeast Asia", "Kabul", "New York") is a place, not a person.
"""

from __future__ import annotations

PLACES = frozenset(
    """
    afghanistan albania algeria andorra angola argentina armenia australia austria azerbaijan
    bahamas bahrain bangladesh barbados belarus belgium belize benin bhutan bolivia bosnia
    botswana brazil brunei bulgaria burkina burundi cambodia cameroon canada chad chile china
    colombia comoros congo croatia cuba cyprus czechia czech denmark djibouti dominica ecuador
    egypt eritrea estonia eswatini ethiopia fiji finland france gabon gambia georgia germany
    ghana greece grenada guatemala guinea guyana haiti honduras hungary iceland india
    indonesia iran iraq ireland israel italy jamaica japan jordan kazakhstan kenya kiribati
    korea kosovo kuwait kyrgyzstan laos latvia lebanon lesotho liberia libya liechtenstein
    lithuania luxembourg madagascar malawi malaysia maldives mali malta mauritania mauritius
    mexico micronesia moldova monaco mongolia montenegro morocco mozambique myanmar namibia
    nauru nepal netherlands nicaragua niger nigeria norway oman pakistan palau palestine
    panama paraguay peru philippines poland portugal qatar romania russia rwanda samoa
    senegal serbia seychelles singapore slovakia slovenia somalia spain sudan suriname sweden
    switzerland syria taiwan tajikistan tanzania thailand togo tonga trinidad tunisia turkey
    turkmenistan tuvalu uganda ukraine uruguay uzbekistan vanuatu vatican venezuela vietnam
    yemen zambia zimbabwe england scotland wales britain uk usa america
    africa asia europe antarctica oceania americas arctic atlantic pacific caribbean
    balkans caucasus sahara scandinavia siberia crimea donbas gaza kashmir tibet xinjiang
    middle east southeast northeast central south north west eastern western southern
    northern
    kabul moscow beijing shanghai washington london paris berlin tokyo delhi mumbai kyiv kiev
    tehran baghdad damascus istanbul ankara cairo riyadh dubai doha jerusalem tel aviv
    brussels rome madrid lisbon vienna warsaw prague budapest athens stockholm oslo helsinki
    copenhagen amsterdam dublin edinburgh geneva zurich toronto montreal vancouver ottawa
    chicago boston houston dallas miami atlanta seattle denver phoenix detroit philadelphia
    york angeles francisco diego vegas orleans sydney melbourne brisbane perth auckland
    singapore manila jakarta bangkok hanoi seoul taipei karachi lahore islamabad dhaka
    lagos nairobi johannesburg cape town kandahar herat almaty tashkent astana minsk
    st petersburg hong kong silicon valley california texas florida
    """.split()
)
