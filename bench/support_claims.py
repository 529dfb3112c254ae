# ruff: noqa: E501  (claims are data: one per line reads best)
"""Hand-written claims of the labelled support set (bench/build_support_set.py reads them).

Each entry: (fact it is about, kind, claim, supported?). The fact is a verbatim sentence
of an article (MultiHop-RAG dev evidence, or a bundled article); the builder attaches
the passage (chunk) that holds the fact. Kinds:
- paraphrase / composed (supported): the fact reworded, or an answer sentence built on it
  ("Yes. ...", "Krasnov asked for it");
- number / name (unsupported): a number or a name changed;
- added (unsupported): the fact plus a claim the passage does not make;
- negation (unsupported): the fact turned around.
Automatic pairs (verbatim facts, swapped numbers and names, facts from another article)
are made by the builder.
"""

from __future__ import annotations

# MultiHop-RAG dev facts, sampled with random.seed(12) from evidence of 12-40 words
MULTIHOP: list[tuple[str, str, str, bool]] = [
    (
        "M00",
        "paraphrase",
        "The $20 discount is the first one seen for the top wireless earbuds pick.",
        True,
    ),
    (
        "M00",
        "number",
        "It is $50 off, the first discount for the top pick in the wireless earbuds guide.",
        False,
    ),
    (
        "M01",
        "paraphrase",
        "Thanksgiving falls on 23 November this year, the fourth Thursday of the month.",
        True,
    ),
    (
        "M01",
        "negation",
        "Thanksgiving is not celebrated on the fourth Thursday of the month.",
        False,
    ),
    (
        "M02",
        "paraphrase",
        "Paro, once ranked first in the division by the WBO, has dropped to 11th because he was inactive.",
        True,
    ),
    (
        "M02",
        "number",
        "Paro is now 3rd in line for a shot at the championship after his inactivity.",
        False,
    ),
    (
        "M03",
        "paraphrase",
        "YouTube said it worked behind the scenes with several artists affiliated with UMG.",
        True,
    ),
    (
        "M03",
        "added",
        "YouTube said it worked with UMG-affiliated artists and paid each of them $1 million.",
        False,
    ),
    (
        "M04",
        "paraphrase",
        "City top the table with 28 points, and Liverpool are second on 27, ahead of Arsenal on goal difference.",
        True,
    ),
    ("M04", "name", "Chelsea lead the table on 28 points with Liverpool second on 27.", False),
    (
        "M05",
        "paraphrase",
        "Over the years Canelo has moved closer to Floyd's billionaire status.",
        True,
    ),
    (
        "M06",
        "paraphrase",
        "Tyreek Hill had 812 yards after the first six games, helped by six catches for 163 yards and a touchdown against Carolina.",
        True,
    ),
    ("M06", "number", "Tyreek Hill had 912 yards through the first six games.", False),
    (
        "M07",
        "paraphrase",
        "The complications were rare, but researchers were concerned because millions of people worldwide use these drugs.",
        True,
    ),
    ("M07", "negation", "The researchers found the complications were common.", False),
    (
        "M08",
        "paraphrase",
        "OpenAI, the company behind ChatGPT, has had a whirlwind four days.",
        True,
    ),
    ("M08", "number", "OpenAI has had a whirlwind ten days.", False),
    (
        "M09",
        "paraphrase",
        "Apple has spent recent years listening to consumers as it had not done for decades.",
        True,
    ),
    (
        "M10",
        "paraphrase",
        "The QRU wants Rugby Australia to restore the $1.7 million a year given to each Super Rugby franchise, which was cut after Covid.",
        True,
    ),
    (
        "M10",
        "number",
        "The QRU wants Rugby Australia to restore $2.5 million in annual funding to each Super Rugby franchise.",
        False,
    ),
    (
        "M11",
        "paraphrase",
        "A year after ChatGPT was released, the article looks back on its first year.",
        True,
    ),
    (
        "M12",
        "paraphrase",
        "A source told Entertainment Tonight that Taylor Swift likes that Travis Kelce pursued her.",
        True,
    ),
    (
        "M12",
        "name",
        "A source told Entertainment Tonight that Taylor Swift likes that Patrick Mahomes pursued her.",
        False,
    ),
    (
        "M13",
        "paraphrase",
        "Pollard would not give a timeframe for when Meta will move to a lawful basis for tracking users in the region.",
        True,
    ),
    (
        "M14",
        "paraphrase",
        "United won seven and lost only one of the first 12 meetings between the teams, between 1905 and 1913.",
        True,
    ),
    (
        "M14",
        "number",
        "United won seven of the first 12 meetings with Chelsea, from 1925 to 1933.",
        False,
    ),
    (
        "M15",
        "paraphrase",
        "The feature can be used in France, Germany, Japan, the U.K. and the U.S. for now, and will expand further.",
        True,
    ),
    ("M15", "name", "The feature is currently available in Spain, Italy and Brazil.", False),
    (
        "M16",
        "paraphrase",
        "Wang said the crypto trading firm took money straight from FTX customers.",
        True,
    ),
    (
        "M17",
        "paraphrase",
        "The co-authors say GPT-4 can be prompted more easily than other LLMs to produce toxic, biased text because it follows jailbreaking prompts more readily.",
        True,
    ),
    (
        "M18",
        "paraphrase",
        "Chris Buescher had his best-ever season in NASCAR's premier series and outshone the veteran.",
        True,
    ),
    ("M18", "name", "Kyle Larson had his best-ever season in NASCAR's premier competition.", False),
    (
        "M19",
        "paraphrase",
        "Sam Bankman-Fried, the former FTX CEO, went on trial on Tuesday on seven counts of fraud and conspiracy.",
        True,
    ),
    (
        "M19",
        "number",
        "Sam Bankman-Fried went on trial facing twelve counts of fraud and conspiracy.",
        False,
    ),
    ("M20", "paraphrase", "TikTok has concentrated on building music-related services.", True),
    ("M21", "paraphrase", "Only six of Haaland's 50 goals in 2023 came for Norway.", True),
    ("M21", "number", "Sixteen of Haaland's 50 goals in 2023 were scored for Norway.", False),
    (
        "M22",
        "paraphrase",
        "According to Google's documentation, local results are ranked by relevance, distance and prominence.",
        True,
    ),
    (
        "M22",
        "added",
        "Google ranks local results by relevance, distance, prominence and the price of the restaurant's menu.",
        False,
    ),
    (
        "M23",
        "paraphrase",
        "She got a spot on Saturday Night Live and her Australian tour next November sold out.",
        True,
    ),
    (
        "M24",
        "paraphrase",
        "He finds it interesting that fans of his gaming streams have turned into sports fans.",
        True,
    ),
    (
        "M25",
        "paraphrase",
        "Purdy alone has four touchdowns as San Francisco piles on against the Cowboys.",
        True,
    ),
    ("M25", "number", "Purdy has thrown two touchdowns against the Cowboys.", False),
    (
        "M26",
        "paraphrase",
        "The Devils' outlook changed after their star center Hughes was injured.",
        True,
    ),
    (
        "M27",
        "paraphrase",
        "When Bawendi began researching quantum dots, he was not thinking about how his work might be applied.",
        True,
    ),
    (
        "M27",
        "name",
        "Bawendi said he was not thinking about applications when he started researching graphene.",
        False,
    ),
    (
        "M28",
        "paraphrase",
        "Argentina beat the All Blacks last year in Christchurch and also handed them a first defeat in 2020 in Sydney.",
        True,
    ),
    ("M28", "name", "Australia beat the All Blacks last year in Christchurch.", False),
    (
        "M29",
        "paraphrase",
        "Risk officers are there to identify, monitor and mitigate a business's potential risks.",
        True,
    ),
    (
        "M30",
        "paraphrase",
        "Twitch had a tense year with layoffs and unpopular policy changes.",
        True,
    ),
    (
        "M31",
        "paraphrase",
        "On 12 October 2023 Israel told 1.1 million residents of northern Gaza to move south ahead of a possible ground invasion.",
        True,
    ),
    (
        "M31",
        "number",
        "Israel warned 2.1 million Gaza residents in the north to leave for the south.",
        False,
    ),
    (
        "M32",
        "paraphrase",
        "Tyreek Hill torched the Commanders with five catches for 157 yards and two touchdowns.",
        True,
    ),
    ("M32", "number", "Tyreek Hill torched the Commanders with five catches for 175 yards.", False),
    (
        "M33",
        "paraphrase",
        "The documentation rules for a price match differ for online and in-store purchases.",
        True,
    ),
    (
        "M34",
        "paraphrase",
        "People in a new relationship may get the chance to introduce their partner to family during the holidays.",
        True,
    ),
    (
        "M35",
        "paraphrase",
        "The picture showed Swift standing beside Kelce and reaching to kiss his cheek.",
        True,
    ),
    ("M36", "paraphrase", "A $100 bet on the Red Sox that wins earns a $100 profit.", True),
    ("M36", "number", "A $100 bet on the Red Sox that wins earns a $150 profit.", False),
    (
        "M37",
        "paraphrase",
        "His excellence at Stamford Bridge may have opened a chance with his country, but he had not been thinking about it.",
        True,
    ),
    (
        "M38",
        "paraphrase",
        "Given Man United's terrible run of form, they are unlikely to get a better chance.",
        True,
    ),
    (
        "M39",
        "paraphrase",
        "Al Saadi says many Palestinians share her frustration with Meta, in the occupied territories and the diaspora.",
        True,
    ),
    (
        "M39",
        "name",
        "Al Saadi said her frustration with Google is common among Palestinians.",
        False,
    ),
    (
        "M40",
        "paraphrase",
        "The European Commission is brought into the process to help with dialogue and to assess issues.",
        True,
    ),
    (
        "M41",
        "paraphrase",
        "James said no apartment in New York City has ever sold for anywhere near that amount.",
        True,
    ),
    (
        "M41",
        "name",
        "James said no apartment in Los Angeles has ever sold for close to that amount.",
        False,
    ),
    (
        "M42",
        "paraphrase",
        "The Texas Tribune reported that a Texas state representative called for an investigation into the company.",
        True,
    ),
    (
        "M43",
        "paraphrase",
        "Susan Saunders, a health coach, ended up parenting her mother, who had dementia, while her daughters were babies.",
        True,
    ),
    (
        "M43",
        "added",
        "Susan Saunders parented her mother with dementia and later wrote a bestselling book about it.",
        False,
    ),
    (
        "M44",
        "paraphrase",
        "When a line moves for a legitimate reason such as an injury, every sportsbook follows.",
        True,
    ),
]

# The bundled articles: (a verbatim sentence of the passage, kind, claim, supported?)
_KRASNOV = "The request, initiated by Prosecutor General Igor Krasnov, signals more than just a bureaucratic policy shuffle."
_BAN = "In a significant shift in international relations, Russia has officially lifted its ban on the Taliban, which it had previously classified as a terrorist organization for over two decades."
_2003 = "Previously, the Taliban had been designated as an outlawed terrorist movement by Russia in 2003, but recent developments point to a pragmatic re-evaluation."
_ATTACK = "Notably, a harrowing attack in March 2024, which resulted in the deaths of 145 people at a concert hall near Moscow, was attributed to the Islamic State, specifically the Afghan branch known as ISIS-Khorasan (IS-K)."
_MASSACRE = "In March 2024, Russia suffered one of its bloodiest terrorist attacks in recent memory—the ISIS-K-orchestrated massacre at a Moscow concert hall that left over 140 dead."
_PUTIN = "Last year, President Vladimir Putin referred to the Taliban as an ally in the global fight against terrorism, indicating a strategic pivot in Moscow's foreign policy."
_CHINA = "In fact, China became the first nation to formally post an ambassador to Taliban-ruled Kabul in 2023."
_HILL = "Harvard economist Fiona Hill highlights, “With much of Europe off-limits, the Kremlin is desperate for new markets."
_ENERGY = "Russian policymakers see Afghanistan not just as a security concern, but as a prime artery for energy exports longing to escape Western sanction regimes."
_SECURITY = "Moscow's recalibrated stance is driven by growing security concerns posed by Islamist militants operating from regions extending from Afghanistan to the Middle East."
_COURT = "That changed in a swift, quiet move: following a closed-door Supreme Court hearing, the Russian government has formally lifted this ban."
_UN = "According to a United Nations report from February 2024, Afghanistan remains “the most repressive country in the world for women’s rights.”"
_OFFICE = "Fast-forward to today: not only have such meetings become routine, but Russia has also quietly opened a business representative office in Afghanistan, betting that the Taliban-controlled territory can serve as a key transit route for Russian energy exports to Southeast Asia (as reported by Reuters, May 2024)."
_GALEOTTI = "notes Mark Galeotti, a Russia analyst at the Royal United Services Institute."
_RECOG = "As no nation currently recognizes the Taliban government, Russia has gradually been forging closer ties with the militant group."
_SCHOOLS = "The militant group continues to face criticism for its policies, including the closure of schools and universities for girls and various restrictions on women's freedom of movement without a male guardian."
_POWER = "This decision marks a pivotal step towards Moscow normalizing ties with Afghanistan's current leadership, which took power in August 2021 amid a chaotic withdrawal of US-led forces after two decades of military engagement."
_NORMAL = "By normalizing ties with the Taliban, Moscow seeks both intelligence cooperation and a modicum of stability along its sensitive southern flank."

BUNDLED: list[tuple[str, str, str, bool]] = [
    (_KRASNOV, "composed", "Prosecutor General Igor Krasnov asked for it.", True),
    (
        _KRASNOV,
        "composed",
        "The request to lift the ban came from Prosecutor General Igor Krasnov.",
        True,
    ),
    (_KRASNOV, "name", "The request was initiated by Foreign Minister Sergei Lavrov.", False),
    (_KRASNOV, "name", "Prosecutor General Yuri Chaika asked for it.", False),
    (
        _BAN,
        "paraphrase",
        "Russia has lifted its ban on the Taliban, which it had called a terrorist organization for more than twenty years.",
        True,
    ),
    (_BAN, "composed", "Yes. Russia has officially lifted its ban on the Taliban.", True),
    (_BAN, "negation", "Russia has not lifted its ban on the Taliban.", False),
    (
        _BAN,
        "number",
        "Russia had classified the Taliban as a terrorist organization for over three decades.",
        False,
    ),
    (
        _2003,
        "paraphrase",
        "Russia designated the Taliban an outlawed terrorist movement in 2003.",
        True,
    ),
    (
        _2003,
        "number",
        "Russia designated the Taliban an outlawed terrorist movement in 1999.",
        False,
    ),
    (
        _ATTACK,
        "composed",
        "145 people died in the March 2024 attack on a concert hall near Moscow.",
        True,
    ),
    (
        _ATTACK,
        "number",
        "The March 2024 attack on a concert hall near Moscow killed 154 people.",
        False,
    ),
    (_ATTACK, "number", "The attack on the concert hall happened in March 2022.", False),
    (
        _ATTACK,
        "paraphrase",
        "The attack was blamed on ISIS-Khorasan, the Afghan branch of the Islamic State.",
        True,
    ),
    (_ATTACK, "name", "The attack was attributed to al-Qaeda's Syrian branch.", False),
    (_MASSACRE, "composed", "The other article says over 140 died.", True),
    (
        _MASSACRE,
        "paraphrase",
        "The ISIS-K massacre at a Moscow concert hall in March 2024 left more than 140 people dead.",
        True,
    ),
    (_MASSACRE, "number", "The massacre at a Moscow concert hall left over 240 dead.", False),
    (
        _PUTIN,
        "paraphrase",
        "Putin called the Taliban an ally in the fight against terrorism last year.",
        True,
    ),
    (_PUTIN, "composed", "Vladimir Putin called the Taliban an ally.", True),
    (
        _PUTIN,
        "name",
        "Dmitry Medvedev called the Taliban an ally in the fight against terrorism.",
        False,
    ),
    (
        _PUTIN,
        "negation",
        "Putin refused to call the Taliban an ally and never changed Moscow's policy.",
        False,
    ),
    (
        _CHINA,
        "composed",
        "China was the first country to formally send an ambassador to Kabul, in 2023.",
        True,
    ),
    (
        _CHINA,
        "name",
        "Iran became the first nation to formally post an ambassador to Taliban-ruled Kabul.",
        False,
    ),
    (_CHINA, "number", "China posted an ambassador to Kabul in 2021.", False),
    (
        _HILL,
        "paraphrase",
        "Fiona Hill says the Kremlin badly needs new markets because much of Europe is closed to it.",
        True,
    ),
    (_HILL, "name", "Mark Galeotti says the Kremlin is desperate for new markets.", False),
    (
        _ENERGY,
        "paraphrase",
        "Russian policymakers view Afghanistan as a route for energy exports that escape Western sanctions.",
        True,
    ),
    (
        _ENERGY,
        "added",
        "Russia plans to export 10 million tonnes of oil a year through Afghanistan.",
        False,
    ),
    (
        _SECURITY,
        "paraphrase",
        "Growing security worries about Islamist militants in regions from Afghanistan to the Middle East drive Moscow's new stance.",
        True,
    ),
    (_SECURITY, "composed", "Security concerns about Islamist militants drove the change.", True),
    (
        _SECURITY,
        "added",
        "Moscow's new stance is driven by a secret oil deal with the Taliban.",
        False,
    ),
    (_COURT, "composed", "The ban was lifted after a closed-door Supreme Court hearing.", True),
    (_COURT, "name", "The ban was lifted after a hearing at the Constitutional Court.", False),
    (_COURT, "negation", "The Supreme Court hearing was held in public.", False),
    (
        _UN,
        "paraphrase",
        "A UN report from February 2024 called Afghanistan the most repressive country in the world for women's rights.",
        True,
    ),
    (
        _UN,
        "number",
        "A United Nations report from February 2022 called Afghanistan the most repressive country for women.",
        False,
    ),
    (
        _OFFICE,
        "paraphrase",
        "Reuters reported in May 2024 that Russia had opened a business office in Afghanistan.",
        True,
    ),
    (
        _OFFICE,
        "composed",
        "Russia hopes to send energy exports through Afghanistan to Southeast Asia.",
        True,
    ),
    (
        _OFFICE,
        "name",
        "Russia hopes to send energy exports through Afghanistan to Western Europe.",
        False,
    ),
    (
        _OFFICE,
        "name",
        "Bloomberg reported that Russia opened a business office in Afghanistan.",
        False,
    ),
    (_GALEOTTI, "composed", "Mark Galeotti works at the Royal United Services Institute.", True),
    (_GALEOTTI, "name", "Mark Galeotti works at Chatham House.", False),
    (_RECOG, "composed", "No. No nation currently recognizes the Taliban government.", True),
    (_RECOG, "negation", "Several nations formally recognize the Taliban government.", False),
    (
        _SCHOOLS,
        "paraphrase",
        "The Taliban have closed schools and universities to girls and restrict women's movement without a male guardian.",
        True,
    ),
    (
        _SCHOOLS,
        "added",
        "The Taliban have closed schools for girls and banned all foreign journalists.",
        False,
    ),
    (_POWER, "composed", "The Taliban took power in August 2021.", True),
    (_POWER, "number", "The Taliban took power in August 2019.", False),
    (
        _POWER,
        "paraphrase",
        "The Taliban came to power in August 2021 as US-led forces withdrew chaotically after twenty years.",
        True,
    ),
    (
        _NORMAL,
        "paraphrase",
        "Moscow wants intelligence cooperation and some stability on its southern flank from normal ties with the Taliban.",
        True,
    ),
    (
        _NORMAL,
        "added",
        "Moscow wants intelligence cooperation and access to Afghanistan's lithium mines.",
        False,
    ),
]
