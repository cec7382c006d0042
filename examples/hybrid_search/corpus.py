"""A small multilingual corpus: six topics, each in six languages, one or two sentences a passage.

The passages of one topic are not translations of each other: each says something of its own, so a good
ranking shows cross-lingual hits that answer the query before those that merely share its topic.
Keys read ``<language>-<topic>``, so the printed rankings need no legend to be read.
"""

from __future__ import annotations

from typing import NamedTuple


class Passage(NamedTuple):
    key: str
    lang: str
    text: str


def _topic(topic: str, **by_lang: str) -> list[Passage]:
    return [Passage(f"{lang}-{topic}", lang, text) for lang, text in by_lang.items()]


PASSAGES: list[Passage] = [
    *_topic(
        "tea",
        en="Green tea leaves are steamed or pan-fired soon after picking, which stops oxidation and keeps them green.",
        zh="绿茶采摘后很快经过杀青（蒸或炒），阻止氧化，因此茶叶保持绿色。龙井是杭州最有名的绿茶。",
        de="Schwarzer Tee wird nach dem Welken gerollt und vollständig oxidiert; daher kommen seine dunkle Farbe "
           "und der kräftige Geschmack.",
        fr="Le thé oolong est partiellement oxydé : il se situe entre le thé vert et le thé noir et vient surtout "
           "de Taïwan et du Fujian.",
        es="El matcha es té verde molido hasta un polvo fino; en la ceremonia japonesa del té se bate con agua "
           "caliente.",
        ja="抹茶は碾茶を石臼で細かく挽いた粉末の緑茶で、茶道ではお湯を注いで茶筅で点てて飲む。",
    ),
    *_topic(
        "wall",
        en="The Great Wall of China is a network of fortifications built over two thousand years; with all its "
           "branches it is about 21,000 km long.",
        zh="长城并不是一道墙，而是两千多年间修建的防御工事体系；包括所有支线，总长度约为两万一千公里。",
        de="Der Hadrianswall wurde ab 122 n. Chr. quer durch Nordengland gebaut und markierte die Nordgrenze der "
           "römischen Provinz Britannia.",
        fr="Que la Grande Muraille soit visible à l'œil nu depuis l'espace est un mythe : elle est longue, mais "
           "bien trop étroite.",
        es="La Gran Muralla se construyó con tierra apisonada y piedra, y durante la dinastía Ming con ladrillos "
           "cocidos.",
        ja="万里の長城は明の時代に大規模に改修され、現在見られるれんが造りの城壁の多くはその頃のものである。",
    ),
    *_topic(
        "volc",
        en="Volcanoes form where magma from the mantle rises through the crust, mostly at plate boundaries or "
           "above hot spots such as Hawaii.",
        zh="火山喷发时，岩浆、火山灰和气体从地下喷出；环太平洋火山带集中了世界上大部分的活火山。",
        de="Der Ätna auf Sizilien ist der aktivste Vulkan Europas und bricht fast jedes Jahr aus.",
        fr="L'éruption du Vésuve en 79 apr. J.-C. ensevelit Pompéi et Herculanum sous plusieurs mètres de cendres.",
        es="El volcán de Cumbre Vieja, en La Palma, entró en erupción en 2021 y su lava destruyó más de mil "
           "edificios.",
        ja="富士山は活火山で、最後の噴火は1707年の宝永噴火である。",
    ),
    *_topic(
        "photo",
        en="Photosynthesis turns light into chemical energy: the plant builds glucose from carbon dioxide and "
           "water and releases oxygen.",
        zh="叶子之所以是绿色的，是因为叶绿素主要吸收红光和蓝光，而把绿光反射出去。",
        de="Bei der Photosynthese wandeln Pflanzen mit Hilfe von Chlorophyll Lichtenergie in chemische Energie um "
           "und geben Sauerstoff ab.",
        fr="En automne, la chlorophylle se dégrade et laisse apparaître les pigments jaunes et orange des "
           "feuilles.",
        es="Las algas y el fitoplancton de los océanos producen cerca de la mitad del oxígeno de la Tierra "
           "mediante la fotosíntesis.",
        ja="光合成は葉緑体で行われ、光エネルギーを使って二酸化炭素と水から糖を作り、酸素を放出する。",
    ),
    *_topic(
        "mars",
        en="NASA's Perseverance rover landed in Jezero Crater in February 2021 and collects rock samples for a "
           "later return to Earth.",
        zh="中国的祝融号火星车于2021年5月在乌托邦平原着陆，是天问一号任务的一部分。",
        de="Der Mars erscheint rot, weil sein Staub und Gestein viel Eisenoxid enthalten, also im Grunde Rost.",
        fr="Un jour martien, appelé sol, dure environ 24 heures et 39 minutes, à peine plus qu'un jour terrestre.",
        es="El helicóptero Ingenuity hizo en Marte, en 2021, el primer vuelo propulsado y controlado sobre otro "
           "planeta.",
        ja="火星の大気は薄く、大部分が二酸化炭素で、地表の気圧は地球の1%にも満たない。",
    ),
    *_topic(
        "print",
        en="Before the printing press, books were copied by hand in monasteries, and a single Bible could take "
           "years of work.",
        zh="北宋的毕昇在十一世纪发明了泥活字印刷术，比古腾堡早约四百年。",
        de="Johannes Gutenberg erfand um 1450 in Mainz den Buchdruck mit beweglichen Metalllettern; die "
           "Gutenberg-Bibel ist sein bekanntestes Werk.",
        fr="L'imprimerie de Gutenberg a rendu les livres bien moins chers et accéléré la diffusion des idées de "
           "la Réforme.",
        es="La imprenta llegó a América en 1539, cuando Juan Pablos abrió un taller en la Ciudad de México.",
        ja="木版印刷は中国で七世紀ごろに始まり、現存する最古の印刷本の一つは868年の『金剛般若経』である。",
    ),
]

# The queries run when none is given on the command line: (language, text).
QUERIES: list[tuple[str, str]] = [
    ("en", "How long is the Great Wall of China?"),
    ("zh", "火星车是什么时候着陆的？"),
    ("de", "Warum sind Blätter grün?"),
    ("es", "¿Quién inventó la imprenta?"),
]
