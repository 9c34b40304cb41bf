"""Story clustering (`bot.cluster`) on real headlines from the corpus.

The pair lists below are the hand-checked evaluation set (`python -m bench.cluster` measures
precision and recall on them). Every string is a title exactly as `bot.parse` reads it from a
file of ../shared/corpus; each pair was checked by reading both items' summaries.
"""

from __future__ import annotations

import random
import sqlite3
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.cluster import (
    BITS,
    DEFAULT_SETTINGS,
    ClusterSettings,
    StoryIndex,
    _simhash_by_bit,
    distance,
    fingerprint,
    item_fingerprint,
    item_link,
    repair_mojibake,
    shingles,
    simhash,
    story_id,
)
from bot.models import Item
from bot.parse import parse_feed

Pair = tuple[str, str]

# Same story: the same event reported by two outlets, or re-posted by one in other words.
SAME_STORY: tuple[Pair, ...] = (
    # Indian Express / Reuters (wire copy, edited)
    (
        "Donor to PM Theresa May’s party says to cut funds if single market access lost",
        "Donor to PM May's party says to cut funds if single market access lost",
    ),
    # Indian Express / Mirror / New York Times: the US intelligence report of 2017-01-06
    (
        "US intelligence report says Putin directed cyber campaign to help Trump win",
        "Vladimir Putin 'directed cyber hacking campaign to help Donald Trump win US presidential "
        "election'",
    ),
    (
        "Putin Led a Complex Cyberattack Scheme to Aid Trump, Report Finds",
        "US intelligence report says Putin directed cyber campaign to help Trump win",
    ),
    (
        "Putin Led a Complex Cyberattack Scheme to Aid Trump, Report Finds",
        "Vladimir Putin 'directed cyber hacking campaign to help Donald Trump win US presidential "
        "election'",
    ),
    # Reuters / New York Times / Indian Express: Trump on who pays for the wall
    (
        "Trump says Mexico would repay U.S. funds spent on border wall",
        "Trump Insists Mexico Will Pay for Wall After U.S. Begins the Work",
    ),
    (
        "Donald Trump on border wall: Mexico will pay us back",
        "Trump says Mexico would repay U.S. funds spent on border wall",
    ),
    (
        "Donald Trump on border wall: Mexico will pay us back",
        "Trump Insists Mexico Will Pay for Wall After U.S. Begins the Work",
    ),
    (
        "Donald Trump on border wall: Mexico will pay us back",
        "Donald Trump asking Congress, not Mexico, to pay for border wall",
    ),
    # Mirror / Indian Express / New York Times: Fort Lauderdale airport shooting
    (
        "Florida airport shooting: Five dead and eight others injured after gunman opens fire in "
        "baggage claim",
        "At least five dead in Fort Lauderdale airport shooting",
    ),
    (
        "First picture of Fort Lauderdale Airport shooting suspect Esteban Santiago-Ruiz",
        "Fort Lauderdale Airport shooting suspect named as Esteban Santiago-Ruiz: what we know so "
        "far",
    ),
    (
        "Fort Lauderdale Airport shooting suspect had mental health issues: Relatives",
        "Fort Lauderdale Airport shooting suspect Esteban Santiago-Ruiz 'told FBI he was forced to "
        "fight for ISIS'",
    ),
    (
        "Fort Lauderdale Airport shooting suspect had mental health issues: Relatives",
        "Florida Airport Assailant May Have Heard Voices Urging Violence, Officials Say",
    ),
    # New York Times / Indian Express
    (
        "Tilikum, the Killer Whale Featured in ‘Blackfish,’ Dies",
        "Tilikum, ‘Blackfish’ orca that killed trainer, dies at SeaWorld Orlando at 36",
    ),
    (
        "Hate Crime Charges Brought in Chicago Torture Case",
        "US: Hate-crime charges filed in attack on mentally disabled man in Chicago",
    ),
    (
        "Obama’s final jobs report: Big pay gain, slower hiring",
        "Recovery Finally Yields Big Gains for Average Worker’s Pay",
    ),
    # Indian Express re-posting its own stories in other words
    (
        "Donald Trump asks US ambassadors appointed by Barack Obama to quit by Inauguration Day",
        "US envoys appointed by Barack Obama asked to quit by Inauguration Day",
    ),
    (
        "Theresa May to visit Donald Trump soon",
        "British Prime Minister Theresa May to visit Donald Trump in spring",
    ),
    (
        "Sindh Governor returns Minorities Bill against forced conversion",
        "Pakistan: Sindh Governor rejects to sanction forced conversion bill",
    ),
    (
        "Israel cuts $6 million in UN funding over settlements resolution",
        "Israel halts $6 million to UN to protest UN settlements vote",
    ),
    # Reuters / Indian Express, and Reuters' own update: the army revolt in Ivory Coast
    (
        "Shooting breaks out at army camp in Ivory Coast's main city",
        "Heavy gunfire heard at military camps in Ivory Coast",
    ),
    (
        "Shooting breaks out at army camp in Ivory Coast's main city",
        "Unrest hits Ivory Coast's main city as army revolt spreads",
    ),
    (
        "Iraqi forces close in on Tigris in IS stronghold Mosul",
        "Iraq forces near Tigris River in Mosul: CTS spokesman",
    ),
    # Guardian US: the article and its video
    (
        "Stormy Daniels on Jimmy Kimmel: porn actor casts doubt on denial of Trump affair – video",
        "Porn actor Stormy Daniels casts doubt on denial of affair with Trump",
    ),
    # Le Monde / Le Parisien
    (
        "Syrie : un attentat à la voiture piégée fait 19 morts",
        "Syrie : au moins 43 morts à Azaz dans un attentat à la voiture piégée",
    ),
    (
        "Neige et verglas attendus dans la moitié nord, trente départements en alerte orange",
        "Neige et pluie verglaçante : alerte étendue à 37 départements",
    ),
    (
        "Ski : nouvelle victoire de Pinturault qui dépasse désormais Killy, Worley confirme",
        "Ski : Pinturault encore plus haut",
    ),
    # Romanews / RomaToday: Spalletti's press conference
    (
        "Spalletti: “Se non vinco, vado via. Juventus? La allenerei” (FOTO)",
        'Roma, Spalletti: "Io alla Juve? Non lo escludo"',
    ),
    # Lenta.ru re-posting (two snapshots of 2021-10-03)
    (
        "Зеленский рассказал о «наглой» политике Украины",
        "Зеленский заявил о «наглой» внешней политике Украины",
    ),
    (
        "Главный редактор «Комсомольской правды» прокомментировал задержание Можейко",
        "Главный редактор «Комсомольской правды» рассказал подробности задержания Можейко",
    ),
    (
        "Главный редактор «Комсомольской правды» прокомментировал задержание Можейко",
        "«Комсомольская правда» отреагировала на задержание Геннадия Можейко",
    ),
    (
        "В США рассказали о цели новой мутации коронавируса",
        "В США раскрыли цель новой мутации коронавируса",
    ),
    (
        "Названо число погибших при взрыве у мечети в Кабуле",
        "У входа в кабульскую мечеть взорвалась бомба",
    ),
    (
        "Число жертв взрыва в Кабуле увеличилось",
        "Названо число погибших при взрыве у мечети в Кабуле",
    ),
    # TUT.BY: the bus crash near Pskov
    (
        "Девять белорусов из опрокинувшегося под Псковом автобуса в больнице. Среди пострадавших "
        "есть дети",
        "24 белоруса, включая троих детей, пострадали в аварии с автобусом под Псковом",
    ),
    # Jornal de Notícias: front-page summary and article
    (
        "Primeira página em 60 segundos: Erros levam EDP a cobrar a mais",
        "Erros na leitura levam EDP a cobrar milhares a mais",
    ),
)

# Different stories about Belarus or Lukashenko on the same day: same names, other events.
BELARUS_SAME_DAY: tuple[Pair, ...] = (
    # Lenta.ru, 2021-10-02: the detention of Gennady Mozheiko and other Belarus news
    (
        "Минск обвинил американский телеканал в обмане после интервью с Лукашенко",
        "Объявлен срок представления поправок в конституцию Белоруссии",
    ),
    (
        "СПЧ призвал Белоруссию освободить журналиста «Комсомольской правды»",
        "В Госдуме отреагировали на задержание журналиста «Комсомольской правды»",
    ),
    (
        "Захарова прокомментировала блокировку белорусской «Комсомольской правды»",
        "В СЖР прокомментировали задержание журналиста «КП в Беларуси» Можейко",
    ),
    (
        "«Комсомольская правда» направит своего представителя в Минск",
        "Минск обвинил американский телеканал в обмане после интервью с Лукашенко",
    ),
    (
        "Госсекретарь Союзного государства прокомментировал задержание журналиста Можейко",
        "В СЖР прокомментировали задержание журналиста «КП в Беларуси» Можейко",
    ),
    (
        "СПЧ призвал Белоруссию освободить журналиста «Комсомольской правды»",
        "Раскрыты подробности задержания журналиста белорусской «Комсомольской правды»",
    ),
    (
        "В Госдуме отреагировали на задержание журналиста «Комсомольской правды»",
        "«Комсомольская правда» отреагировала на задержание Геннадия Можейко",
    ),
    # TUT.BY, 2019-12-29/30
    (
        "«Пренебречь, вальсируем!» Как прошел Венский бал с участием президента",
        "Вальс с президентом, солидная прибавка к пенсии и мандарины по 12 рублей - все за "
        "выходные",
    ),
    (
        "Вдоль проспекта Независимости в Минске люди выстроились в живую цепь",
        "В Минске участники акции против интеграции с Россией прошли до площади Независимости. И, "
        "похоже, всё",
    ),
    (
        "Крутой про интеграцию: Аргументы сторон понятны, необходимо политическое решение",
        "Интеграционный 2019-й. Громкая трагедия, недешевый фарс, чудеса и скандалы уходящего года",
    ),
    (
        "Главный оппозиционер для Лукашенко, карательный имидж и битва в Миорах. Тест по новостям",
        "«За убийство зверя получил 2,5 тысячи». Продолжение истории бешеного волка, изувечившего "
        "людей под Миорами",
    ),
    (
        "Ветрено, пасмурно, дождливо. Погода в Гродно в новогоднюю ночь и остальные дни",
        "Дожди и слякоть. Погода в Гомеле в новогоднюю ночь и остальные дни",
    ),
    (
        "Дожди, тепло, порывистый ветер. Погода в новогоднюю ночь и остальные дни в Бресте",
        "Дожди и слякоть. Погода в Гомеле в новогоднюю ночь и остальные дни",
    ),
    (
        "Зима, пока? Какой будет погода в Новый год и ближайшие дни в Могилеве",
        "Сюрпризы за окном. Все о погоде в Витебске в новогоднюю ночь и остальную неделю",
    ),
    (
        "Сильный ветер, гололед, оранжевый уровень. Погода в понедельник не порадует белорусов",
        "Ветрено, пасмурно, дождливо. Погода в Гродно в новогоднюю ночь и остальные дни",
    ),
    (
        "Власти рассказали, какими будут зарплаты медиков в 2020 году, а какими - через 5 лет",
        "Петришенко: у кого трое и более детей, на каждого ребенка будут определенные надбавки",
    ),
    (
        "Повысят пенсионный возраст и коммуналку, введут комиссию за платежи через ЕРИП. Изменения "
        "января",
        "Вальс с президентом, солидная прибавка к пенсии и мандарины по 12 рублей - все за "
        "выходные",
    ),
    (
        "24 белоруса, включая троих детей, пострадали в аварии с автобусом под Псковом",
        "В Бресте BMW поехал на красный и врезался в такси: пострадали два человека, в том числе "
        "ребенок",
    ),
    (
        "Около 100 противников строительства аккумуляторного завода вновь собрались в центре "
        "Бреста",
        "В Минске участники акции против интеграции с Россией прошли до площади Независимости. И, "
        "похоже, всё",
    ),
    (
        "У знак салідарнасці з Мінскам. У Віцебску прайшла акцыя за незалежнасць Беларусі",
        "Вдоль проспекта Независимости в Минске люди выстроились в живую цепь",
    ),
    # Onliner.by, 2021-10-26
    (
        "ICAO об инциденте с посадкой Ryanair в Минске: надо больше времени. Возможно — до февраля",
        "Цены на путевки пошли вверх. Все из-за каникул и россиян",
    ),
    (
        "В Гродно пьяный водитель вез шесть пассажиров — никого его состояние не смутило",
        "Женщина на ВАЗе с 3,0 промилле везла ребенка в поликлинику, но врезалась в остановку",
    ),
    (
        "На витебской трассе столкнулись два грузовика, один из водителей в реанимации",
        "Водителя такси будут судить за дворовое ДТП с ребенком. Скорость автомобиля была чуть "
        "выше 11 км/ч",
    ),
    (
        "Гродненец сообщил лжесотруднику банка реквизиты карты и лишился более 30 тысяч рублей",
        "У клиентов «Белинвестбанка» не работают карточки. Что случилось?",
    ),
)

# Other different stories that share names or words (same outlet, same day).
OTHER_SAME_NAMES: tuple[Pair, ...] = (
    # two different players (Ionov of Krasnodar, a Rubin midfielder)
    (
        "Футболист сборной России пропустит матчи отбора ЧМ-2022",
        "Футболист сборной России получил травму перед матчами отбора к ЧМ",
    ),
    # Zakharova's reply and Senator Pushkov's, to Zelensky's words
    (
        "Захарова пословицей ответила на слова Зеленского о «наглой» внешней политике",
        "В России ответили на слова Зеленского о «наглой» внешней политике Украины",
    ),
    (
        "Зеленский заявил о «наглой» внешней политике Украины",
        "В России ответили на слова Зеленского о «наглой» внешней политике Украины",
    ),
    (
        "Солистка «Тату» сообщила о воссоединении группы",
        "Экс-солистке «Тату» запретили исполнять хиты группы",
    ),
    # the Russian health minister's claim, and an Argentine drug maker's
    (
        "Мурашко заявил о готовности ВОЗ признать российскую вакцину «Спутник V»",
        "Стало известно о сроках признания ВОЗ российской вакцины «Спутник V»",
    ),
    (
        "Зеленский заявил о готовности к встрече с Путиным",
        "Зеленский высказался о своем втором сроке",
    ),
    # Clapper's testimony (Jan 5) and the published report (Jan 6)
    (
        "Russia interfered in Presidential elections: US intelligence chief",
        "US intelligence report says Putin directed cyber campaign to help Trump win",
    ),
    (
        "Trump calls Russian hacking controversy ‘political witch hunt’",
        "Mike Pence says Donald Trump will take aggressive action to combat cyber hacking",
    ),
)

# Different stories in a template's words: a fire brigade's call-outs, insider-trade alerts,
# a daily listing. Word sketches cannot tell these apart well (their known weakness): they are
# measured by the bench, not asserted.
TEMPLATES: tuple[Pair, ...] = (
    (
        "[02.08.2018 - 11:18 Uhr] Brandmeldeanlagenalarm",
        "[02.08.2018 - 18:57 Uhr] Brandmeldeanlagenalarm",
    ),
    (
        "[05.08.2018 - 15:42 Uhr] Brandmeldeanlagenalarm",
        "[06.08.2018 - 04:53 Uhr] Brandmeldeanlagenalarm",
    ),
    (
        "[16.08.2018 - 11:37 Uhr] Brandmeldeanlagenalarm",
        "[17.08.2018 - 20:09 Uhr] Brandmeldeanlagenalarm",
    ),
    (
        "[17.08.2018 - 20:09 Uhr] Brandmeldeanlagenalarm",
        "[19.08.2018 - 07:08 Uhr] Brandmeldeanlagenalarm",
    ),
    ("[06.08.2018 - 18:08 Uhr] Insekteneinsatz", "[08.08.2018 - 17:45 Uhr] Insekteneinsatz"),
    (
        "Slack (NASDAQ:WORK) CEO Sells $91750.00 in Stock",
        "Slack (NASDAQ:WORK) CEO Sells $53170714.63 in Stock",
    ),
    (
        "Slack (NASDAQ:WORK) SVP Sells $14409915.40 in Stock",
        "Slack (NASDAQ:WORK) CFO Sells $19407875.75 in Stock",
    ),
    (
        "Slack (NASDAQ:WORK) CFO Sells $19407875.75 in Stock",
        "Slack (NASDAQ:WORK) CEO Sells $53170714.63 in Stock",
    ),
    # the same insider, two sales (June 28th and July 5th)
    (
        "Insider Selling: Slack (NASDAQ:WORK) Insider Sells 1500 Shares of Stock",
        "Slack (NASDAQ:WORK) Insider Cal Henderson Sells 1500 Shares",
    ),
    (
        "Things To Do Today In London: Wednesday 28 June 2017",
        "Things To Do Today In London: Tuesday 27 June 2017",
    ),
    ("Цитата #17236", "Цитата #17272"),
)

# Different stories with nothing in common that still come close by chance: the noise floor of
# a 64-bit fingerprint (the bench found these at distance 13 and 14).
UNRELATED: tuple[Pair, ...] = (
    (
        "Mexican president defends gas price hike as protests spread",
        "South Korean court formally starts President President Park Geun-hye’s impeachment trial",
    ),
    (
        "California bracing for storm that closed Yosemite Valley",
        "Ghana's new President Akufo-Addo says will cut taxes",
    ),
)

# Follow-ups: other articles on one event. Neither the same story nor another one, so they
# count in neither precision nor recall; the bench says how many merge.
RELATED: tuple[Pair, ...] = (
    (
        "Fort Lauderdale airport shooting: A look at other deadly attacks at US airports",
        "At least five dead in Fort Lauderdale airport shooting",
    ),
    (
        "Fort Lauderdale airport shooting: A look at other deadly attacks at US airports",
        "US veteran guns down 5 at Fort Lauderdale airport, witness says he was randomly shooting",
    ),
    (
        "Investigators search for motive in Florida airport shooting",
        "Florida airport shooting highlights limits of US airport security",
    ),
    (
        "Florida airport shooting: Five dead and eight others injured after gunman opens fire in "
        "baggage claim",
        "Was Fort Lauderdale shooting air rage? Suspect 'argued with passengers' before 'executing "
        "five people at baggage reclaim'",
    ),
    (
        "Florida airport shooting: Fears of 'co-ordinated attack' after reports of 'second gunman "
        "on the loose'",
        "Scenes From Fort Lauderdale Airport Shooting",
    ),
    (
        "Экзитполы зафиксировали лидерство правящей партии на выборах в Грузии",
        "Правящая партия Грузии в восьмой раз одержала победу на выборах",
    ),
    (
        "Раскрыты подробности задержания журналиста белорусской «Комсомольской правды»",
        "Главный редактор «Комсомольской правды» рассказал подробности задержания Можейко",
    ),
    (
        "Установлена личность подозреваемого в тройном убийстве студенток в Гае",
        "Раскрыты подробности о подозреваемом в тройном убийстве студенток в Гае",
    ),
)

# Pairs within the default distance: near-duplicates (an edited wire copy across outlets, an
# outlet's re-post in other words, an update of its own story).
MERGED_BY_DEFAULT: tuple[Pair, ...] = (
    SAME_STORY[0],  # Indian Express / Reuters
    SAME_STORY[9],  # Mirror, twice on the suspect's name
    SAME_STORY[20],  # Reuters' update on Ivory Coast
    SAME_STORY[27],  # Lenta.ru, "заявил" / "рассказал"
)


@lru_cache(maxsize=1)
def corpus_items(corpus: Path) -> dict[str, tuple[str, Item]]:
    """Every corpus item by title (the first file that has it): (file name, item)."""
    found: dict[str, tuple[str, Item]] = {}
    for path in sorted(corpus.glob("*.xml")):
        for item in parse_feed(path.read_bytes(), url=f"https://corpus.test/{path.name}").items:
            found.setdefault(item.title, (path.name, item))
    return found


@pytest.fixture
def items(corpus_dir: Path) -> dict[str, tuple[str, Item]]:
    return corpus_items(corpus_dir)


def item(items: dict[str, tuple[str, Item]], title: str) -> Item:
    return items[title][1]


def at(entry: Item) -> float:
    assert entry.published is not None
    return entry.published.timestamp()


def test_every_listed_headline_is_in_the_corpus(items: dict[str, tuple[str, Item]]) -> None:
    pairs = SAME_STORY + BELARUS_SAME_DAY + OTHER_SAME_NAMES + TEMPLATES + UNRELATED + RELATED
    missing = [title for pair in pairs for title in pair if title not in items]
    assert missing == []
    assert len(SAME_STORY) >= 15
    assert len(BELARUS_SAME_DAY) >= 15
    for first, second in BELARUS_SAME_DAY:  # the same day, as the list says
        assert abs(at(item(items, first)) - at(item(items, second))) < 36 * 3600


@pytest.mark.parametrize(("first", "second"), MERGED_BY_DEFAULT)
def test_the_same_story_worded_differently_clusters(
    items: dict[str, tuple[str, Item]], first: str, second: str
) -> None:
    one, other = item(items, first), item(items, second)
    assert one.canonical_url != other.canonical_url
    index = StoryIndex()
    story, new = index.assign("a", item_fingerprint(one), canonical_url=None, at=at(one))
    again, new_again = index.assign("b", item_fingerprint(other), canonical_url=None, at=at(other))
    assert (new, new_again, again) == (True, False, story)


def test_two_outlets_join_one_story(items: dict[str, tuple[str, Item]]) -> None:
    """Reuters' copy and the Indian Express's edit of it, each fed by its own feed."""
    reuters_title, express_title = SAME_STORY[0]
    assert items[reuters_title][0] != items[express_title][0]
    index = StoryIndex()
    stories = {
        index.assign(
            item_link(entry, name),
            item_fingerprint(entry),
            canonical_url=entry.canonical_url,
            at=at(entry),
        )[0]
        for name, entry in (items[reuters_title], items[express_title])
    }
    assert len(stories) == 1


@pytest.mark.parametrize(("first", "second"), BELARUS_SAME_DAY + OTHER_SAME_NAMES + UNRELATED)
def test_different_stories_with_the_same_names_stay_apart(
    items: dict[str, tuple[str, Item]], first: str, second: str
) -> None:
    one, other = item(items, first), item(items, second)
    index = StoryIndex()
    story, _ = index.assign("a", item_fingerprint(one), canonical_url=None, at=at(one))
    other_story, new = index.assign("b", item_fingerprint(other), canonical_url=None, at=at(one))
    assert new and other_story != story


def test_a_whole_days_belarus_news_makes_as_many_stories_as_items(
    items: dict[str, tuple[str, Item]],
) -> None:
    """TUT.BY's 100 items of 2019-12-29/30 (34 about Belarus) hold no copies of each other."""
    tut = [entry for name, entry in items.values() if name.startswith("ru_tut_by")]
    index = StoryIndex()
    new = [
        index.assign(e.canonical_url, item_fingerprint(e), canonical_url=e.canonical_url, at=at(e))[
            1
        ]
        for e in sorted(tut, key=at)
    ]
    assert len(new) == 100 and all(new)


def test_the_window_expires_old_stories(items: dict[str, tuple[str, Item]]) -> None:
    first, second = SAME_STORY[0]
    one, other = item(items, first), item(items, second)
    index = StoryIndex(ClusterSettings(window=3600))
    story, _ = index.assign("a", item_fingerprint(one), canonical_url="https://x.test/a", at=1000.0)
    assert index.find(item_fingerprint(other), canonical_url=None, now=4600.0) == story
    assert index.find(item_fingerprint(other), canonical_url=None, now=4601.0) is None
    assert index.find(None, canonical_url="https://x.test/a", now=4601.0) is None
    assert len(index) == 1
    assert index.expire(4600.0) == 0
    assert index.expire(4601.0) == 1
    assert len(index) == 0 and index.export() == []
    later, new = index.assign("b", item_fingerprint(other), canonical_url=None, at=9000.0)
    assert new and later != story


def test_the_exact_canonical_url_joins_whatever_the_words(
    items: dict[str, tuple[str, Item]],
) -> None:
    """A headline rewritten under the same link (two different real headlines here) is the same
    story; the URL is looked up before any fingerprint."""
    first, second = BELARUS_SAME_DAY[0]
    one, other = item(items, first), item(items, second)
    url = one.canonical_url
    index = StoryIndex()
    story, _ = index.assign(url, item_fingerprint(one), canonical_url=url, at=at(one))
    assert index.find(item_fingerprint(other), canonical_url=url, now=at(one) + 60) == story
    assert index.find(item_fingerprint(other), canonical_url=None, now=at(one) + 60) is None


def test_the_two_lenta_snapshots_repeat_stories_by_url(
    items: dict[str, tuple[str, Item]], corpus_dir: Path
) -> None:
    """192 links are in both snapshots of 2021-10-03; the second snapshot adds no new story
    for them, by URL and (their text being identical) by fingerprint too."""
    snapshots = sorted(corpus_dir.glob("ru_lenta_ru_rss_2021-10-03*.xml"))
    assert len(snapshots) == 2
    parsed = [parse_feed(p.read_bytes(), url="https://lenta.ru/rss").items for p in snapshots]
    index = StoryIndex()
    first = {
        e.canonical_url: index.assign(
            e.canonical_url, item_fingerprint(e), canonical_url=e.canonical_url, at=at(e)
        )[0]
        for e in parsed[0]
    }
    by_print = StoryIndex()
    for e in parsed[0]:
        by_print.assign(e.canonical_url, item_fingerprint(e), canonical_url=None, at=at(e))
    repeated = [e for e in parsed[1] if e.canonical_url in first]
    assert len(repeated) == 192
    for e in repeated:
        assert (
            index.find(item_fingerprint(e), canonical_url=e.canonical_url, now=at(e))
            == first[e.canonical_url]
        )
        assert by_print.find(item_fingerprint(e), canonical_url=None, now=at(e)) is not None


def test_export_and_load_round_trip_through_sqlite(items: dict[str, tuple[str, Item]]) -> None:
    index = StoryIndex()
    titles = [title for pair in SAME_STORY[:6] for title in pair] + ["", "Фото"]
    for number, title in enumerate(titles):
        index.assign(
            f"https://x.test/{number}", fingerprint(title), canonical_url=None, at=1000.0 + number
        )
    exported = index.export()
    assert all(isinstance(fp, int | None) for fp, _, _, _ in exported)
    database = sqlite3.connect(":memory:")
    database.execute("CREATE TABLE story (fingerprint INTEGER, story TEXT, at REAL, link TEXT)")
    database.executemany("INSERT INTO story VALUES (?, ?, ?, ?)", exported)
    rows = [tuple(row) for row in database.execute("SELECT * FROM story ORDER BY at")]
    assert rows == exported
    loaded = StoryIndex()
    loaded.load(rows)
    assert loaded.export() == exported
    probe = item(items, SAME_STORY[0][1])
    assert loaded.find(item_fingerprint(probe), canonical_url=None, now=2000.0) == index.find(
        item_fingerprint(probe), canonical_url=None, now=2000.0
    )
    assert loaded.find(None, canonical_url="https://x.test/3", now=2000.0) == exported[3][1]


def test_fingerprints_and_story_ids_are_stable() -> None:
    """Stored fingerprints must mean the same after a restart and an upgrade: these values are
    pinned (a change to the words or the hash has to re-fingerprint the store)."""
    title = "Минск обвинил американский телеканал в обмане после интервью с Лукашенко"
    value = fingerprint(title)
    assert value == fingerprint(title)
    assert value == PINNED_FINGERPRINT
    assert story_id("https://lenta.ru/news/2021/10/02/x/", value, 1633196460.0) == PINNED_STORY_ID
    assert story_id("https://lenta.ru/news/2021/10/02/x/", value, 1633196461.0) != PINNED_STORY_ID
    index = StoryIndex()
    story, new = index.assign(
        "https://lenta.ru/news/2021/10/02/x/", value, canonical_url=None, at=1633196460.0
    )
    assert (story, new) == (PINNED_STORY_ID, True)


PINNED_FINGERPRINT = 3336553488139869715
PINNED_STORY_ID = "7ec3ae600889f87b"


@pytest.mark.parametrize("title", ["", "   ", "Фото", "Video: Live", "Фото дня", "—", "12"])
def test_too_short_a_title_joins_only_by_url(title: str) -> None:
    assert fingerprint(title) is None
    index = StoryIndex()
    story, _ = index.assign(
        "https://x.test/1", fingerprint(title), canonical_url="https://x.test/1", at=0.0
    )
    other, new = index.assign(
        "https://x.test/2", fingerprint(title), canonical_url="https://x.test/2", at=1.0
    )
    assert new and other != story
    assert index.find(fingerprint(title), canonical_url="https://x.test/1", now=2.0) == story


def test_short_titles_do_not_gather_into_one_story(items: dict[str, tuple[str, Item]]) -> None:
    shortest = sorted(
        items.values(), key=lambda pair: len(shingles(pair[1].title, pair[1].summary))
    )[:30]
    index = StoryIndex()
    news = [
        index.assign(str(n), item_fingerprint(e), canonical_url=None, at=0.0)[1]
        for n, (_, e) in enumerate(shortest)
    ]
    assert all(news)


def test_lanes_give_the_bit_by_bit_simhash(items: dict[str, tuple[str, Item]]) -> None:
    for _, entry in list(items.values())[::7]:
        features = shingles(entry.title, entry.summary)
        for bits in (64, 128):
            assert simhash(features, bits) == _simhash_by_bit(features, bits)


@given(st.dictionaries(st.text(max_size=6), st.integers(1, 9000), min_size=1, max_size=12))
def test_lanes_give_the_bit_by_bit_simhash_at_any_weight(features: dict[str, int]) -> None:
    """Weights up to the lanes' limit (a total under 2**16) and past it (counted bit by bit)."""
    for bits in (64, 128):
        assert simhash(features, bits) == _simhash_by_bit(features, bits)


@pytest.mark.parametrize("size", [3000, 60], ids=["probed", "few-buckets-scanned"])
def test_the_index_finds_what_a_scan_finds(size: int) -> None:
    rnd = random.Random(7)
    settings = ClusterSettings(max_distance=DEFAULT_SETTINGS.max_distance)
    index = StoryIndex(settings)
    stored = [rnd.getrandbits(BITS) for _ in range(size)]
    for number, value in enumerate(stored):
        index.add(f"k{number}", value, f"s{number}", float(number))
    queries = [
        value ^ sum(1 << bit for bit in rnd.sample(range(BITS), rnd.randrange(0, 14)))
        for value in rnd.sample(stored, min(size, 300))
    ]
    queries += [rnd.getrandbits(BITS) for _ in range(100)]
    for query in queries:
        near = [
            (distance(query, value), number)
            for number, value in enumerate(stored)
            if distance(query, value) <= settings.max_distance
        ]
        expected = f"s{min(near)[1]}" if near else None
        assert index.find(query, canonical_url=None, now=float(size)) == expected


def test_re_adding_a_link_replaces_it() -> None:
    index = StoryIndex()
    index.add("https://x.test/a", 5, "one", 0.0)
    index.add("https://x.test/a", ~5, "two", 1.0)  # all 64 bits differ
    assert len(index) == 1
    assert index.find(5, canonical_url=None, now=2.0) is None
    assert index.find(~5, canonical_url=None, now=2.0) == "two"
    assert index.find(5, canonical_url="https://x.test/a", now=2.0) == "two"


def test_mojibake_is_repaired_before_fingerprinting() -> None:
    assert repair_mojibake("Floride : ce que lâ€™on sait de la fusillade Ã lâ€™aÃ©roport") == (
        "Floride : ce que l’on sait de la fusillade à l’aéroport"
    )
    assert repair_mojibake("CDU-GeneralsekretÃ¤r Tauber") == "CDU-Generalsekretär Tauber"
    for clean in ("Über Lukašenka à Minsk", "Лукашенко", "Ã", "naïve café"):
        assert repair_mojibake(clean) == clean
    assert fingerprint("Zidane Ã©gale le record dâ€™invincibilitÃ© du BarÃ§a") == fingerprint(
        "Zidane égale le record d’invincibilité du Barça"
    )


def test_settings_are_checked() -> None:
    for wrong in ({"max_distance": 32}, {"max_distance": -1}, {"window": 0}, {"min_features": 0}):
        with pytest.raises(ValueError, match="must"):
            ClusterSettings(**wrong)
