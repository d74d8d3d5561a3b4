"""Article text for the replica: the real seed article plus generated Chinese news.

Everything is drawn from one ``random.Random`` so a build is reproducible. The plan alone says
what is body and what is caption: an image's caption is printed in an attribute, beside the
image (its table, its own paragraph after a ``<br>``), or as the paragraph after it, which
papers open with 图为, 图：, 上图 or ▲. The generator also writes look-alikes on purpose, all of
them body: a sub-heading or a sentence ending in 摄 or 拍摄 right after a captionless image,
a 图为 sentence set just above an image (after none), sentences naming the portal's chrome;
the templates print them as real pages do.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

SEED_FILE = Path(__file__).with_name("seed-article.json")

PLACES = ["合肥市", "芜湖市", "蚌埠市", "安庆市", "滁州市", "阜阳市", "六安市", "马鞍山市",
          "铜陵市", "宣城市", "池州市", "黄山市", "淮北市", "亳州市", "宿州市", "淮南市",
          "我省", "省经信厅", "省发展改革委", "省商务厅", "肥西县", "庐江县", "桐城市"]
VERBS = ["加快推进", "持续深化", "全面实施", "大力发展", "积极培育", "扎实推动", "着力优化",
         "稳步推进", "统筹推进", "聚力打造", "高位谋划", "精准服务"]
OBJECTS = ["新能源汽车产业", "数字经济", "制造业数字化转型", "营商环境", "科技创新平台",
           "乡村振兴", "民营经济", "绿色低碳发展", "专精特新企业", "县域经济", "现代农业",
           "文旅融合", "招商引资", "重点项目建设", "光伏产业链", "集成电路产业", "农产品加工",
           "跨境电商", "智能家电产业", "研发（R&D）投入", "人才引育", "园区标准化建设"]
RESULTS = ["取得明显成效", "呈现良好态势", "实现稳中有进", "迈出坚实步伐", "不断提质增效",
           "跑出加速度", "释放新活力", "展现新作为"]
PEOPLE = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周涛", "吴昊",
          "徐丽", "孙浩", "胡婷", "朱军", "高翔", "林峰", "何琳", "郭宁", "马超", "罗佳"]
COMPANIES = ["江淮汽车", "奇瑞控股", "海螺集团", "科大讯飞", "京东方", "蔚来中国", "阳光电源",
             "合力股份", "古井集团", "铜陵有色", "马钢集团", "国轩高科"]
COLUMNS = ["学思想 强党性 重实践 建新功", "高质量发展调研行", "一线传真", "经济观察",
           "县域经济", "企业风采", "奋进新征程", "民生关注"]
SUBHEADS = ["强化创新驱动", "优化要素保障", "聚焦重点领域", "坚持项目为王", "深化改革开放",
            "服务企业发展", "筑牢发展根基", "激发市场活力"]
CAPTION_SCENES = ["工人在生产线上忙碌", "技术人员调试智能设备", "游客在景区参观游览",
                  "农民在田间采收作物", "集装箱货轮停靠港口", "企业展位吸引众多客商",
                  "新建厂房鳞次栉比", "志愿者为群众提供咨询服务"]
#: Two-character words for free-form sentences: keeps 5-gram statistics close to real text.
WORDS = """发展 经济 企业 项目 建设 产业 创新 服务 推进 工作 市场 政策 改革 开放 投资 生产 技术
管理 资金 人才 平台 园区 工业 农业 城市 乡村 社会 群众 干部 基层 部门 单位 机制 体系 能力 质量
效益 规模 结构 转型 升级 融合 协同 绿色 低碳 数字 智能 制造 装备 材料 能源 汽车 电子 信息 网络
数据 算力 物流 交通 港口 铁路 公路 水利 电力 燃气 环保 生态 文化 旅游 教育 医疗 卫生 养老 就业
收入 消费 外贸 出口 进口 订单 产能 产值 税收 利润 成本 价格 金融 信贷 保险 担保 基金 债券 上市
融资 招商 签约 落地 开工 投产 达产 验收 审批 办理 监管 执法 安全 应急 防汛 抗旱 秸秆 粮食 种植
养殖 加工 流通 电商 直播 品牌 标准 专利 研发 攻关 成果 转化 孵化 高校 院所 专家 团队 职工 农户
村民 居民 社区 街道 乡镇 县区 省级 国家 重点 重大 关键 核心 基础 长远 当前 全年 上半年 一季度
同比 环比 增长 下降 提升 扩大 优化 完善 健全 强化 深化 落实 部署 调度 督导 考核 评估 谋划 布局
培育 壮大 引进 招引 对接 走访 调研 座谈 会商 研判 协调 解决 破解 攻坚 突破 推广 示范 试点 样板
特色 优势 短板 瓶颈 难题 诉求 需求 供给 要素 土地 用工 用能 物价 民生 福祉 获得感 幸福感 满意度
营商 环境 效率 速度 力度 温度 精度 高度 深度 广度 成效 亮点 经验 做法 模式 路径 举措 方案 清单
台账 节点 目标 任务 责任 作风 纪律 党建 引领 组织 队伍 阵地 载体 活动 宣传 培训 交流 观摩 比拼""".split()
CONNECT = ["，", "，", "，", "、", "和", "与", "中", "的", "的", "上", "为", "以"]
#: A stock opening shared by two distinct articles (they must not count as duplicates).
STOCK_OPENING = ("为深入贯彻落实省委、省政府关于推动经济高质量发展的决策部署，"
                 "进一步激发市场主体活力，近日，有关部门召开专题会议研究部署相关工作。")


@dataclass
class Image:
    """An image in an article body; ``caption_mode`` says how the page shows the caption."""

    name: str
    caption: str  # truth caption ("" when none)
    # "data-original-title" | "title" | "alt" (an attribute), "next" (beside the image: its
    # table's next row, or after a <br> in its paragraph), "para" (the paragraph after the
    # image's own), "none"
    caption_mode: str
    in_table: bool = False
    url: str = ""  # root-relative, set by the builder


@dataclass
class Article:
    """One article as the truth sees it, plus how it is printed."""

    intro_title: str | None
    title_printed: str  # may hold doubled or full-width spaces
    subtitle: str | None  # truth, dashes removed
    subtitle_dash: str  # how the subtitle is printed: "——", "—" or "--"
    author: str | None  # truth byline, normalized
    blocks: list[tuple[str, object]] = field(default_factory=list)  # ("p", str) | ("img", Image)
    meta_mode: str = "full"  # "full" | "partial" | "missing" | "shuffled"
    aid: int = 0
    url: str = ""
    key: str = ""  # marks special articles ("seed", "reprint", ...)

    @property
    def title(self) -> str:
        return normalize(self.title_printed)

    @property
    def column(self) -> str | None:
        m = re.match(r"【([^】]*)】", self.title)
        return normalize(m.group(1)) or None if m else None

    bare: bool = False  # printed without <founder-content> (the body's fallbacks)

    @property
    def paragraphs(self) -> list[str]:
        return [b for k, b in self.blocks if k in ("p", "sub")]  # type: ignore[misc]

    @property
    def images(self) -> list[Image]:
        return [b for k, b in self.blocks if k == "img"]  # type: ignore[misc]

    @property
    def body(self) -> str:
        return "\n".join(self.paragraphs)


def normalize(text: str) -> str:
    """Every whitespace run (incl. U+3000 and NBSP) becomes one space; ends trimmed."""
    return re.sub(r"[\s\u3000\xa0]+", " ", text).strip()


def load_seed() -> Article:
    """The real article of 2023-08-03, exactly as seed-article.json gives it."""
    d = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    printed = d["subtitle_as_printed"]
    dash = "——" if printed.startswith("——") else "—"
    return Article(intro_title=None, title_printed=d["title"], subtitle=d["subtitle"],
                   subtitle_dash=dash, author=None,
                   blocks=[("p", p) for p in d["paragraphs"]], meta_mode="full", key="seed")


class TextGen:
    """Generates plausible 安徽经济报 articles from a seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.r = rng

    def pick(self, seq: list[str]) -> str:
        return self.r.choice(seq)

    def sentence(self) -> str:
        r, p = self.r, self.pick
        forms = [
            lambda: f"今年以来，{p(PLACES)}{p(VERBS)}{p(OBJECTS)}，{p(RESULTS)}。",
            lambda: f"据了解，{p(PLACES)}上半年累计完成投资{r.randint(12, 980)}亿元，"
                    f"同比增长{r.randint(2, 39)}.{r.randint(0, 9)}%。",
            lambda: f"“下一步，我们将继续{p(VERBS)}{p(OBJECTS)}，推动{p(OBJECTS)}{p(RESULTS)}。”"
                    f"{p(PLACES)}相关负责人{p(PEOPLE)}说。",
            lambda: f"截至{r.randint(1, 12)}月底，{p(PLACES)}共有{r.randint(30, 2600)}家企业"
                    f"参与{p(OBJECTS)}，带动就业{r.randint(1, 40)}万人。",
            lambda: f"在{p(COMPANIES)}的生产车间里，{p(CAPTION_SCENES)}，一派繁忙景象。",
            lambda: f"{p(COMPANIES)}负责人介绍，企业今年新增订单{r.randint(3, 90)}亿元，"
                    f"产能利用率达到{r.randint(70, 99)}%。",
            lambda: f"{p(PLACES)}围绕{p(OBJECTS)}出台{r.randint(3, 30)}条支持措施，"
                    f"着力破解企业融资难、用工难等问题。",
            lambda: f"记者在{p(PLACES)}看到，{p(OBJECTS)}项目现场塔吊林立，"
                    f"{r.randint(200, 3000)}余名建设者正加紧施工。",
            lambda: f"业内人士认为，{p(OBJECTS)}与{p(OBJECTS)}深度融合，将为区域经济注入新动能。",
            lambda: f"{p(PLACES)}建立“一企一策”服务机制，累计为企业解决各类诉求"
                    f"{r.randint(40, 900)}件。",
            lambda: f"{r.randint(2019, 2023)}年，{p(PEOPLE)}带领团队攻克{p(OBJECTS)}关键技术"
                    f"{r.randint(2, 30)}项，申请专利{r.randint(5, 120)}件。",
            lambda: f"在{p(PLACES)}{p(['经开区', '高新区', '产业园', '示范区', '新区'])}，"
                    f"{p(COMPANIES)}{p(['二期', '三期', '扩建', '技改'])}项目预计{r.randint(1, 12)}月投产，"
                    f"达产后年产值可达{r.randint(5, 300)}亿元。",
            lambda: f"“{p(['以前', '过去', '原来'])}办一件事要跑{r.randint(2, 9)}趟，现在"
                    f"{p(['一次就办好', '手机上就能办', '全程不见面'])}。”{p(COMPANIES)}员工{p(PEOPLE)}告诉记者。",
            lambda: f"{p(PLACES)}{p(OBJECTS)}{p(['综合指数', '总量', '增速', '占比'])}"
                    f"位居全省第{r.randint(1, 16)}位，较去年同期提升{r.randint(1, 9)}个位次。",
        ]
        return r.choice(forms)()

    def short_news(self) -> str:
        r = self.r
        return (f"{r.randint(1, 12)}月{r.randint(1, 28)}日，{self.pick(PLACES)}"
                f"{self.pick(['举行', '启动', '召开', '开展'])}{self.pick(OBJECTS)}"
                f"{self.pick(['现场推进会', '专题培训', '集中签约活动', '观摩活动', '对接洽谈会'])}，"
                f"{r.randint(20, 600)}余人参加。{self.sentence()}")

    def free_sentence(self) -> str:
        r = self.r
        parts = [r.choice(WORDS)]
        for _ in range(r.randint(5, 14)):
            parts += [r.choice(CONNECT) if r.random() < 0.45 else "", r.choice(WORDS)]
        if r.random() < 0.3:
            parts.insert(r.randrange(1, len(parts)), f"{r.randint(2, 980)}{r.choice(['家', '个', '项', '亿元', '万元', '%'])}")
        return "".join(parts).replace("，，", "，") + "。"

    def paragraph(self) -> str:
        r = self.r
        return "".join(self.sentence() if r.random() < 0.3 else self.free_sentence()
                       for _ in range(r.randint(1, 4)))

    def byline(self) -> str:
        r = self.r
        a = self.pick(PEOPLE)
        forms = [f"本报记者 {a}", f"本报记者 {a} 通讯员 {self.pick(PEOPLE)}",
                 f"本报通讯员 {a}", f"记者 {a} {self.pick(PEOPLE)}"]
        return r.choice(forms)

    def caption(self, paragraph: bool = False) -> str:
        """A caption; one printed as a paragraph of its own opens as papers open those."""
        scene = self.pick(CAPTION_SCENES)
        if paragraph:
            forms = [f"图为{self.pick(PLACES)}{scene}。", f"▲ {scene}。",
                     f"图：{scene}。（本报记者 {self.pick(PEOPLE)} 摄）", f"上图 {scene}（资料图）"]
        else:
            forms = [f"图为{self.pick(PLACES)}{scene}。", f"▲ {scene}。",
                     f"{scene}。本报记者 {self.pick(PEOPLE)} 摄", f"{scene}（资料图）"]
        return self.r.choice(forms)

    def image(self, name: str) -> Image:
        r = self.r
        mode = r.choice(["data-original-title", "title", "alt", "next", "para", "none"])
        caption = "" if mode == "none" else self.caption(paragraph=mode == "para")
        return Image(name=name, caption=caption, caption_mode=mode, in_table=r.random() < 0.3)

    def title(self) -> str:
        r, p = self.r, self.pick
        forms = [f"{p(PLACES)}{p(VERBS)}{p(OBJECTS)}", f"{p(OBJECTS)}{p(RESULTS)}",
                 f"{p(VERBS)}{p(OBJECTS)}  {p(OBJECTS)}{p(RESULTS)}",
                 f"{p(PLACES)}：{p(OBJECTS)}{p(RESULTS)}"]
        t = r.choice(forms)
        if r.random() < 0.15:
            t = f"【{p(COLUMNS)}】{t}"
        return t

    def article(self, image_name, *, short: bool = False) -> Article:
        """A fresh article; ``image_name()`` yields unique image file names."""
        r = self.r
        if short:  # 图片新闻: one image and one or two sentences
            img = self.image("")
            return Article(intro_title=None, title_printed=r.choice(["图片新闻", "图片报道"]),
                           subtitle=None, subtitle_dash="——", author=None,
                           blocks=[("img", img), ("p", self.short_news())],
                           meta_mode=self.meta_mode())
        n = r.randint(5, 30)
        blocks: list[tuple[str, object]] = []
        if r.random() < 0.12:  # a lead photo above the text
            blocks.append(("img", self.image("")))
        for i in range(n):
            if i > 2 and r.random() < 0.08:
                blocks.append(("sub", self.pick(SUBHEADS)))  # a sub-heading, printed centred
            if blocks and blocks[-1][0] == "img" and not blocks[-1][1].caption and r.random() < 0.5:
                self.add_look_alike(blocks)  # body text that reads like a caption
            blocks.append(("p", self.paragraph()))
            if r.random() < 0.03:
                blocks.append(("p", self.chrome_like()))
            if r.random() < 0.06:
                blocks.append(("img", self.image("")))
        intro = r.choice([f"聚焦{self.pick(OBJECTS)}", f"{self.pick(PLACES)}："]) \
            if r.random() < 0.25 else None
        sub = f"{self.pick(PLACES)}{self.pick(VERBS)}{self.pick(OBJECTS)}纪实" \
            if r.random() < 0.25 else None
        return Article(intro_title=intro, title_printed=self.title(), subtitle=sub,
                       subtitle_dash=r.choice(["——", "——", "—", "--"]),
                       author=self.byline() if r.random() < 0.6 else None,
                       blocks=blocks, meta_mode=self.meta_mode(), bare=r.random() < 0.06)

    def add_look_alike(self, blocks: list[tuple[str, object]]) -> None:
        """Body text near the captionless image ending ``blocks`` that a caption rule could
        take: right after it, a sub-heading or a sentence ending in 摄 or 拍摄; or a sentence
        opening with 图为 set just above it, where it follows no image."""
        r, p = self.r, self.pick
        forms = [
            ("sub", p(SUBHEADS)),
            ("p", f"这些画面，是{p(PEOPLE)}和同事们利用周末时间在{p(PLACES)}蹲守多日所摄"),
            ("p", f"图为{p(PLACES)}{p(OBJECTS)}的一个缩影，{p(RESULTS)}。"),
            ("p", f"{p(COMPANIES)}的宣传片由专业团队历时{r.randint(2, 9)}个月在车间实地拍摄"),
        ]
        k = r.randrange(len(forms))
        if forms[k][1].startswith("图为"):
            if len(blocks) < 2 or blocks[-2][0] != "img":
                blocks.insert(len(blocks) - 1, forms[k])  # above the image: it follows none
                return
            kind, text = forms[k]  # above the image would follow another one: a 摄 sentence instead
            forms[k] = (kind, f"展现{text[2:].rstrip('。')}的这组照片，均为本报记者现场所摄")
        blocks.append(forms[k])

    def chrome_like(self) -> str:
        """A body line naming the portal's chrome (it is text, not chrome)."""
        r = self.r
        return r.choice([
            f"读者可登录安徽经济网首页，在数字版首页的往期回顾栏目查阅{r.randint(2019, 2023)}年以来的相关报道。",
            f"（下转第{r.randint(2, 8)}版）",
            "版面下载和PDF下载服务已向订阅用户开放，上一版、下一版按钮可翻阅全部版面。",
        ])

    def meta_mode(self) -> str:
        return self.r.choice(["full"] * 5 + ["shuffled"] * 2 + ["partial"] * 2 + ["missing"])

    def near_duplicate(self, src: Article) -> Article:
        """A copy with one sentence edited (character Jaccard stays well above 0.8)."""
        blocks = list(src.blocks)
        idx = max((i for i, (k, _) in enumerate(blocks) if k == "p"),
                  key=lambda i: len(blocks[i][1]))  # type: ignore[arg-type]
        text = str(blocks[idx][1])
        first = text.split("。")[0]
        blocks[idx] = ("p", text.replace(first, "据最新统计，相关指标继续保持增长态势", 1))
        return replace(src, blocks=blocks, aid=0, url="", key="near_duplicate")

    def stock_pair(self, image_name) -> tuple[Article, Article]:
        """Two distinct long articles sharing a byline and a stock first sentence."""
        byline = f"本报记者 {self.pick(PEOPLE)}"
        out = []
        for key in ("stock_a", "stock_b"):
            a = self.article(image_name)
            while len(a.paragraphs) < 8:
                a = self.article(image_name)
            a.author, a.key = byline, key
            a.blocks.insert(0, ("p", STOCK_OPENING))
            out.append(a)
        return out[0], out[1]
