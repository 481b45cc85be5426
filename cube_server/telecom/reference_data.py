"""Static reference data for the synthetic telecom data set: real places, products, channels.

Everything here is immutable (tuples of frozen dataclasses) so that the generator can never
mutate shared state and so that iteration order is fixed by the source text, never by hashing.
Weights are relative "market sizes", not population figures: the generator only normalises them.
The seed-independent dimension tables (geography, organisation, product, channel) are built here
too; the customer dimension depends on the seed and lives in the generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass(frozen=True, slots=True)
class Named:
    """A coded member with an English and a Chinese label."""

    code: str
    name_en: str
    name_zh: str


@dataclass(frozen=True, slots=True)
class City:
    short: str
    name_en: str
    name_zh: str
    weight: float


@dataclass(frozen=True, slots=True)
class Province:
    code: str
    name_en: str
    name_zh: str
    # The official full name (广东省, 内蒙古自治区), used in branch names such as 广东省分公司.
    full_name_zh: str
    region: str
    weight: float
    cities: tuple[City, ...]


@dataclass(frozen=True, slots=True)
class Destination:
    iso2: str
    name_en: str
    name_zh: str
    continent: str
    weight: float
    rate_cents_per_minute: int


@dataclass(frozen=True, slots=True)
class Product:
    code: str
    line: str
    name_en: str
    name_zh: str
    # "local", "long_distance", "international" (usage with minutes) or "monthly" (billing run).
    kind: str


SCOPE_DOMESTIC = Named("domestic", "Domestic", "国内")
SCOPE_INTERNATIONAL = Named("international", "International", "国际")
COUNTRY_CHINA = Named("cn", "China", "中国")
HEAD_OFFICE = Named("hq", "Head Office", "总公司")

CONTINENTS: tuple[Named, ...] = (
    Named("asia", "Asia", "亚洲"),
    Named("europe", "Europe", "欧洲"),
    Named("north_america", "North America", "北美洲"),
    Named("south_america", "South America", "南美洲"),
    Named("africa", "Africa", "非洲"),
    Named("oceania", "Oceania", "大洋洲"),
)

# The seven conventional 片区 used by Chinese operators and statistics offices.
REGIONS: tuple[Named, ...] = (
    Named("north_china", "North China", "华北"),
    Named("northeast_china", "Northeast China", "东北"),
    Named("east_china", "East China", "华东"),
    Named("central_china", "Central China", "华中"),
    Named("south_china", "South China", "华南"),
    Named("southwest_china", "Southwest China", "西南"),
    Named("northwest_china", "Northwest China", "西北"),
)


def _c(short: str, name_en: str, name_zh: str, weight: float) -> City:
    return City(short, name_en, name_zh, weight)


# All 31 mainland provincial-level divisions. Municipalities have a single city whose short code
# repeats the province code (bj_bj), so every province has the same province -> city depth.
PROVINCES: tuple[Province, ...] = (
    Province("bj", "Beijing", "北京", "北京市", "north_china", 38, (_c("bj", "Beijing", "北京", 100),)),
    Province("tj", "Tianjin", "天津", "天津市", "north_china", 20, (_c("tj", "Tianjin", "天津", 100),)),
    Province(
        "he",
        "Hebei",
        "河北",
        "河北省",
        "north_china",
        55,
        (
            _c("sjz", "Shijiazhuang", "石家庄", 100),
            _c("ts", "Tangshan", "唐山", 70),
            _c("bd", "Baoding", "保定", 75),
            _c("hd", "Handan", "邯郸", 60),
            _c("lf", "Langfang", "廊坊", 45),
        ),
    ),
    Province(
        "sx",
        "Shanxi",
        "山西",
        "山西省",
        "north_china",
        24,
        (
            _c("ty", "Taiyuan", "太原", 100),
            _c("dt", "Datong", "大同", 45),
            _c("cz", "Changzhi", "长治", 40),
            _c("yc", "Yuncheng", "运城", 45),
        ),
    ),
    Province(
        "nm",
        "Inner Mongolia",
        "内蒙古",
        "内蒙古自治区",
        "north_china",
        18,
        (
            _c("hhht", "Hohhot", "呼和浩特", 100),
            _c("bt", "Baotou", "包头", 85),
            _c("cf", "Chifeng", "赤峰", 60),
            _c("eeds", "Ordos", "鄂尔多斯", 65),
        ),
    ),
    Province(
        "ln",
        "Liaoning",
        "辽宁",
        "辽宁省",
        "northeast_china",
        35,
        (
            _c("sy", "Shenyang", "沈阳", 100),
            _c("dl", "Dalian", "大连", 90),
            _c("as", "Anshan", "鞍山", 35),
            _c("jz", "Jinzhou", "锦州", 30),
        ),
    ),
    Province(
        "jl",
        "Jilin",
        "吉林",
        "吉林省",
        "northeast_china",
        18,
        (
            _c("cc", "Changchun", "长春", 100),
            _c("jl", "Jilin", "吉林", 50),
            _c("sp", "Siping", "四平", 20),
        ),
    ),
    Province(
        "hl",
        "Heilongjiang",
        "黑龙江",
        "黑龙江省",
        "northeast_china",
        24,
        (
            _c("hrb", "Harbin", "哈尔滨", 100),
            _c("dq", "Daqing", "大庆", 45),
            _c("qqhr", "Qiqihar", "齐齐哈尔", 35),
            _c("mdj", "Mudanjiang", "牡丹江", 25),
        ),
    ),
    Province("sh", "Shanghai", "上海", "上海市", "east_china", 40, (_c("sh", "Shanghai", "上海", 100),)),
    Province(
        "js",
        "Jiangsu",
        "江苏",
        "江苏省",
        "east_china",
        100,
        (
            _c("nj", "Nanjing", "南京", 95),
            _c("sz", "Suzhou", "苏州", 100),
            _c("wx", "Wuxi", "无锡", 70),
            _c("cz", "Changzhou", "常州", 50),
            _c("nt", "Nantong", "南通", 50),
            _c("xz", "Xuzhou", "徐州", 50),
        ),
    ),
    Province(
        "zj",
        "Zhejiang",
        "浙江",
        "浙江省",
        "east_china",
        90,
        (
            _c("hz", "Hangzhou", "杭州", 100),
            _c("nb", "Ningbo", "宁波", 80),
            _c("wz", "Wenzhou", "温州", 60),
            _c("jh", "Jinhua", "金华", 45),
            _c("sx", "Shaoxing", "绍兴", 40),
        ),
    ),
    Province(
        "ah",
        "Anhui",
        "安徽",
        "安徽省",
        "east_china",
        45,
        (
            _c("hf", "Hefei", "合肥", 100),
            _c("wh", "Wuhu", "芜湖", 40),
            _c("bb", "Bengbu", "蚌埠", 30),
            _c("fy", "Fuyang", "阜阳", 35),
        ),
    ),
    Province(
        "fj",
        "Fujian",
        "福建",
        "福建省",
        "east_china",
        45,
        (
            _c("fz", "Fuzhou", "福州", 100),
            _c("xm", "Xiamen", "厦门", 85),
            _c("qz", "Quanzhou", "泉州", 80),
            _c("zz", "Zhangzhou", "漳州", 35),
        ),
    ),
    Province(
        "jx",
        "Jiangxi",
        "江西",
        "江西省",
        "east_china",
        32,
        (
            _c("nc", "Nanchang", "南昌", 100),
            _c("gz", "Ganzhou", "赣州", 60),
            _c("jj", "Jiujiang", "九江", 40),
            _c("sr", "Shangrao", "上饶", 35),
        ),
    ),
    Province(
        "sd",
        "Shandong",
        "山东",
        "山东省",
        "east_china",
        90,
        (
            _c("jn", "Jinan", "济南", 90),
            _c("qd", "Qingdao", "青岛", 100),
            _c("yt", "Yantai", "烟台", 55),
            _c("wf", "Weifang", "潍坊", 55),
            _c("ly", "Linyi", "临沂", 50),
            _c("zb", "Zibo", "淄博", 40),
        ),
    ),
    Province(
        "ha",
        "Henan",
        "河南",
        "河南省",
        "central_china",
        75,
        (
            _c("zz", "Zhengzhou", "郑州", 100),
            _c("ly", "Luoyang", "洛阳", 45),
            _c("ny", "Nanyang", "南阳", 45),
            _c("xx", "Xinxiang", "新乡", 30),
            _c("kf", "Kaifeng", "开封", 25),
        ),
    ),
    Province(
        "hb",
        "Hubei",
        "湖北",
        "湖北省",
        "central_china",
        50,
        (
            _c("wh", "Wuhan", "武汉", 100),
            _c("yc", "Yichang", "宜昌", 35),
            _c("xy", "Xiangyang", "襄阳", 35),
            _c("jz", "Jingzhou", "荆州", 25),
        ),
    ),
    Province(
        "hn",
        "Hunan",
        "湖南",
        "湖南省",
        "central_china",
        50,
        (
            _c("cs", "Changsha", "长沙", 100),
            _c("zz", "Zhuzhou", "株洲", 30),
            _c("hy", "Hengyang", "衡阳", 35),
            _c("yy", "Yueyang", "岳阳", 30),
        ),
    ),
    Province(
        "gd",
        "Guangdong",
        "广东",
        "广东省",
        "south_china",
        130,
        (
            _c("gz", "Guangzhou", "广州", 100),
            _c("sz", "Shenzhen", "深圳", 100),
            _c("dg", "Dongguan", "东莞", 60),
            _c("fs", "Foshan", "佛山", 55),
            _c("zh", "Zhuhai", "珠海", 20),
            _c("st", "Shantou", "汕头", 25),
        ),
    ),
    Province(
        "gx",
        "Guangxi",
        "广西",
        "广西壮族自治区",
        "south_china",
        32,
        (
            _c("nn", "Nanning", "南宁", 100),
            _c("lz", "Liuzhou", "柳州", 50),
            _c("gl", "Guilin", "桂林", 45),
            _c("bh", "Beihai", "北海", 20),
        ),
    ),
    Province(
        "hi",
        "Hainan",
        "海南",
        "海南省",
        "south_china",
        8,
        (
            _c("hk", "Haikou", "海口", 100),
            _c("sy", "Sanya", "三亚", 45),
        ),
    ),
    Province("cq", "Chongqing", "重庆", "重庆市", "southwest_china", 28, (_c("cq", "Chongqing", "重庆", 100),)),
    Province(
        "sc",
        "Sichuan",
        "四川",
        "四川省",
        "southwest_china",
        70,
        (
            _c("cd", "Chengdu", "成都", 100),
            _c("my", "Mianyang", "绵阳", 25),
            _c("dy", "Deyang", "德阳", 20),
            _c("nc", "Nanchong", "南充", 25),
            _c("yb", "Yibin", "宜宾", 20),
        ),
    ),
    Province(
        "gz",
        "Guizhou",
        "贵州",
        "贵州省",
        "southwest_china",
        24,
        (
            _c("gy", "Guiyang", "贵阳", 100),
            _c("zy", "Zunyi", "遵义", 60),
            _c("lps", "Liupanshui", "六盘水", 30),
        ),
    ),
    Province(
        "yn",
        "Yunnan",
        "云南",
        "云南省",
        "southwest_china",
        30,
        (
            _c("km", "Kunming", "昆明", 100),
            _c("qj", "Qujing", "曲靖", 40),
            _c("yx", "Yuxi", "玉溪", 25),
        ),
    ),
    Province(
        "xz",
        "Tibet",
        "西藏",
        "西藏自治区",
        "southwest_china",
        2,
        (
            _c("ls", "Lhasa", "拉萨", 100),
            _c("rkz", "Shigatse", "日喀则", 40),
            _c("lz", "Nyingchi", "林芝", 20),
        ),
    ),
    Province(
        "sn",
        "Shaanxi",
        "陕西",
        "陕西省",
        "northwest_china",
        30,
        (
            _c("xa", "Xi'an", "西安", 100),
            _c("bj", "Baoji", "宝鸡", 30),
            _c("xy", "Xianyang", "咸阳", 35),
            _c("yl", "Yulin", "榆林", 30),
        ),
    ),
    Province(
        "gs",
        "Gansu",
        "甘肃",
        "甘肃省",
        "northwest_china",
        14,
        (
            _c("lz", "Lanzhou", "兰州", 100),
            _c("ts", "Tianshui", "天水", 35),
            _c("jyg", "Jiayuguan", "嘉峪关", 10),
        ),
    ),
    Province(
        "qh",
        "Qinghai",
        "青海",
        "青海省",
        "northwest_china",
        4,
        (
            _c("xn", "Xining", "西宁", 100),
            _c("hd", "Haidong", "海东", 35),
        ),
    ),
    Province(
        "nx",
        "Ningxia",
        "宁夏",
        "宁夏回族自治区",
        "northwest_china",
        5,
        (
            _c("yc", "Yinchuan", "银川", 100),
            _c("szs", "Shizuishan", "石嘴山", 30),
            _c("wz", "Wuzhong", "吴忠", 30),
        ),
    ),
    Province(
        "xj",
        "Xinjiang",
        "新疆",
        "新疆维吾尔自治区",
        "northwest_china",
        16,
        (
            _c("wlmq", "Urumqi", "乌鲁木齐", 100),
            _c("klmy", "Karamay", "克拉玛依", 20),
            _c("hm", "Hami", "哈密", 15),
        ),
    ),
)

# Policy: Hong Kong, Macao and Taiwan are billed by mainland fixed-line operators under the
# international & HMT (港澳台) tariff, not the domestic long-distance one, so they are modelled as
# international destinations (scope "international", continent Asia) with Chinese-convention names.
# Rates are believable per-minute IDD prices in cents; weights favour the usual calling partners.
DESTINATIONS: tuple[Destination, ...] = (
    Destination("hk", "Hong Kong, China", "中国香港", "asia", 18, 150),
    Destination("mo", "Macao, China", "中国澳门", "asia", 4, 150),
    Destination("tw", "Taiwan, China", "中国台湾", "asia", 6, 150),
    Destination("jp", "Japan", "日本", "asia", 10, 300),
    Destination("kr", "South Korea", "韩国", "asia", 8, 300),
    Destination("sg", "Singapore", "新加坡", "asia", 7, 300),
    Destination("th", "Thailand", "泰国", "asia", 4, 400),
    Destination("my", "Malaysia", "马来西亚", "asia", 4, 400),
    Destination("vn", "Vietnam", "越南", "asia", 3, 400),
    Destination("id", "Indonesia", "印度尼西亚", "asia", 2, 400),
    Destination("ph", "Philippines", "菲律宾", "asia", 2, 400),
    Destination("in", "India", "印度", "asia", 2, 500),
    Destination("ae", "United Arab Emirates", "阿联酋", "asia", 2, 600),
    Destination("sa", "Saudi Arabia", "沙特阿拉伯", "asia", 1, 600),
    Destination("gb", "United Kingdom", "英国", "europe", 4, 360),
    Destination("de", "Germany", "德国", "europe", 4, 360),
    Destination("fr", "France", "法国", "europe", 3, 360),
    Destination("it", "Italy", "意大利", "europe", 2, 360),
    Destination("es", "Spain", "西班牙", "europe", 1.5, 360),
    Destination("nl", "Netherlands", "荷兰", "europe", 1.5, 360),
    Destination("ch", "Switzerland", "瑞士", "europe", 1, 400),
    Destination("ru", "Russia", "俄罗斯", "europe", 3, 460),
    Destination("us", "United States", "美国", "north_america", 14, 240),
    Destination("ca", "Canada", "加拿大", "north_america", 5, 240),
    Destination("mx", "Mexico", "墨西哥", "north_america", 1, 600),
    Destination("br", "Brazil", "巴西", "south_america", 1.5, 800),
    Destination("ar", "Argentina", "阿根廷", "south_america", 0.5, 800),
    Destination("cl", "Chile", "智利", "south_america", 0.6, 800),
    Destination("pe", "Peru", "秘鲁", "south_america", 0.4, 800),
    Destination("za", "South Africa", "南非", "africa", 1, 800),
    Destination("eg", "Egypt", "埃及", "africa", 0.6, 800),
    Destination("ng", "Nigeria", "尼日利亚", "africa", 0.6, 800),
    Destination("ke", "Kenya", "肯尼亚", "africa", 0.5, 800),
    Destination("au", "Australia", "澳大利亚", "oceania", 5, 360),
    Destination("nz", "New Zealand", "新西兰", "oceania", 1.5, 360),
)

PRODUCT_LINES: tuple[Named, ...] = (
    Named("ordinary_telephone", "Ordinary Telephone", "普通电话"),
    Named("value_added", "Value-Added Services", "增值业务"),
    Named("data_services", "Data Services", "数据业务"),
)

PRODUCTS: tuple[Product, ...] = (
    Product("local_call", "ordinary_telephone", "Local Call", "本地通话", "local"),
    Product("domestic_long_distance", "ordinary_telephone", "Domestic Long Distance", "国内长途", "long_distance"),
    Product("international_call", "ordinary_telephone", "International Call", "国际长途", "international"),
    Product("monthly_rental", "ordinary_telephone", "Monthly Rental", "月租费", "monthly"),
    Product("caller_id", "value_added", "Caller ID", "来电显示", "monthly"),
    Product("voicemail", "value_added", "Voicemail", "语音信箱", "monthly"),
    Product("call_forwarding", "value_added", "Call Forwarding", "呼叫转移", "monthly"),
    Product("ring_back_tone", "value_added", "Ring Back Tone", "彩铃", "monthly"),
    Product("broadband", "data_services", "Broadband", "宽带", "monthly"),
    Product("leased_line", "data_services", "Leased Line", "专线", "monthly"),
    Product("iptv", "data_services", "IPTV", "IPTV", "monthly"),
)

# Products withdrawn years ago whose stragglers still bill but which the product catalogue no
# longer lists: the deliberate orphan product keys. They behave like monthly fees.
RETIRED_PRODUCT_CODES: tuple[str, ...] = ("retired_isdn", "retired_pstn_dialup")

CHANNELS: tuple[Named, ...] = (
    Named("business_hall", "Business Hall", "营业厅"),
    Named("call_centre_1000", "1000 Call Centre", "1000号客服中心"),
    Named("web_portal", "Web Portal", "网上营业厅"),
    Named("account_manager", "Account Manager", "客户经理"),
)

SEGMENT_PUBLIC = Named("public", "Public Customers", "公众客户")
SEGMENT_KEY_ACCOUNT = Named("key_account", "Key Accounts", "大客户")

# Common surnames and given-name characters (with pinyin) for believable public-customer names.
SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "Wang"),
    ("李", "Li"),
    ("张", "Zhang"),
    ("刘", "Liu"),
    ("陈", "Chen"),
    ("杨", "Yang"),
    ("黄", "Huang"),
    ("赵", "Zhao"),
    ("吴", "Wu"),
    ("周", "Zhou"),
    ("徐", "Xu"),
    ("孙", "Sun"),
    ("马", "Ma"),
    ("朱", "Zhu"),
    ("胡", "Hu"),
    ("郭", "Guo"),
    ("何", "He"),
    ("高", "Gao"),
    ("林", "Lin"),
    ("罗", "Luo"),
    ("郑", "Zheng"),
    ("梁", "Liang"),
    ("谢", "Xie"),
    ("宋", "Song"),
    ("唐", "Tang"),
    ("许", "Xu"),
    ("韩", "Han"),
    ("冯", "Feng"),
    ("邓", "Deng"),
    ("曹", "Cao"),
)

GIVEN_NAME_CHARS: tuple[tuple[str, str], ...] = (
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀", "xiu"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("桂", "gui"),
    ("英", "ying"),
    ("华", "hua"),
    ("建", "jian"),
    ("国", "guo"),
    ("文", "wen"),
    ("辉", "hui"),
    ("玲", "ling"),
    ("鹏", "peng"),
    ("宇", "yu"),
    ("浩", "hao"),
    ("婷", "ting"),
    ("晨", "chen"),
    ("欣", "xin"),
    ("佳", "jia"),
)

# Brand syllables and industries for believable key-account company names.
COMPANY_BRANDS: tuple[tuple[str, str], ...] = (
    ("华信", "Huaxin"),
    ("恒通", "Hengtong"),
    ("金桥", "Jinqiao"),
    ("远航", "Yuanhang"),
    ("东方", "Dongfang"),
    ("瑞丰", "Ruifeng"),
    ("鼎盛", "Dingsheng"),
    ("天成", "Tiancheng"),
    ("宏达", "Hongda"),
    ("新锐", "Xinrui"),
    ("长城", "Changcheng"),
    ("海纳", "Haina"),
    ("中联", "Zhonglian"),
    ("永泰", "Yongtai"),
    ("博远", "Boyuan"),
    ("星辰", "Xingchen"),
    ("安平", "Anping"),
    ("汇通", "Huitong"),
    ("嘉禾", "Jiahe"),
    ("立德", "Lide"),
)

COMPANY_INDUSTRIES: tuple[tuple[str, str], ...] = (
    ("科技", "Technology"),
    ("贸易", "Trading"),
    ("物流", "Logistics"),
    ("电子", "Electronics"),
    ("机械", "Machinery"),
    ("建设", "Construction"),
    ("医药", "Pharmaceutical"),
    ("食品", "Foods"),
    ("纺织", "Textiles"),
    ("能源", "Energy"),
    ("化工", "Chemicals"),
    ("传媒", "Media"),
    ("置业", "Real Estate"),
    ("汽车", "Automotive"),
)


# ---------------------------------------------------------------------------------------------
# Static dimension tables (everything except customers, which depend on the seed)


def cities() -> list[tuple[Province, City]]:
    """Every domestic city with its province, in a fixed order (city index == branch index)."""
    return [(province, city) for province in PROVINCES for city in province.cities]


def city_code(province: Province, city: City) -> str:
    return f"{province.code}_{city.short}"


def city_weights() -> np.ndarray:
    """Market share of each city: its province's size split by the cities' relative sizes."""
    weights: list[float] = []
    for province in PROVINCES:
        total = sum(city.weight for city in province.cities)
        weights.extend(province.weight * city.weight / total for city in province.cities)
    return np.array(weights)


def geography_table() -> pa.Table:
    """One row per domestic city and per international destination (ragged: NULL below country)."""
    regions = {region.code: region for region in REGIONS}
    continents = {continent.code: continent for continent in CONTINENTS}
    asia = continents["asia"]
    rows: list[tuple[str | None, ...]] = []
    for province, city in cities():
        region = regions[province.region]
        rows.append(
            (
                city_code(province, city),
                *_named(SCOPE_DOMESTIC),
                *_named(asia),
                *_named(COUNTRY_CHINA),
                *_named(region),
                province.code,
                province.name_en,
                province.name_zh,
                city_code(province, city),
                city.name_en,
                city.name_zh,
            )
        )
    for dest in DESTINATIONS:
        rows.append(
            (
                f"intl_{dest.iso2}",
                *_named(SCOPE_INTERNATIONAL),
                *_named(continents[dest.continent]),
                dest.iso2,
                dest.name_en,
                dest.name_zh,
                *([None] * 9),
            )
        )
    names = ["geography_code"] + [
        f"{level}{suffix}"
        for level in ("scope", "continent", "country", "region", "province", "city")
        for suffix in ("", "_name_en", "_name_zh")
    ]
    return _table_from_rows(names, rows)


def organisation_table() -> pa.Table:
    rows = []
    for province, city in cities():
        code = city_code(province, city)
        rows.append(
            (
                code,
                *_named(HEAD_OFFICE),
                province.code,
                f"{province.name_en} Branch",
                f"{province.full_name_zh}分公司",
                code,
                f"{city.name_en} Branch",
                f"{city.name_zh}市分公司",
            )
        )
    names = [
        "branch_code",
        "head_office",
        "head_office_name_en",
        "head_office_name_zh",
        "province_branch",
        "province_branch_name_en",
        "province_branch_name_zh",
        "city_branch",
        "city_branch_name_en",
        "city_branch_name_zh",
    ]
    return _table_from_rows(names, rows)


def product_table() -> pa.Table:
    lines = {line.code: line for line in PRODUCT_LINES}
    rows = [(p.code, *_named(lines[p.line]), p.code, p.name_en, p.name_zh) for p in PRODUCTS]
    names = ["product_code", "line", "line_name_en", "line_name_zh", "product", "product_name_en", "product_name_zh"]
    return _table_from_rows(names, rows)


def channel_table() -> pa.Table:
    rows = [_named(channel) for channel in CHANNELS]
    return _table_from_rows(["channel_code", "channel_name_en", "channel_name_zh"], rows)


def _named(member: Named) -> tuple[str, str, str]:
    return member.code, member.name_en, member.name_zh


def _table_from_rows(names: list[str], rows: Sequence[Sequence[str | None]]) -> pa.Table:
    columns = [pa.array([row[i] for row in rows], pa.string()) for i in range(len(names))]
    return pa.Table.from_arrays(columns, names=names)
