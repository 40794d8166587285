"""`evaluate` module for the SLT scores (BLEU-1..4 cumulative, ROUGE-L of the `rouge` package, chrF).

Load it by path, which works offline (HF_HUB_OFFLINE=1):

    import evaluate
    from signdpo_trl.metrics import SLT_METRIC_PATH

    slt = evaluate.load(SLT_METRIC_PATH)
    slt.compute(predictions=["a man walks"], references=["a man is walking"], language="en")

The computation is `signdpo_trl.metrics.compute_slt_metrics`; this file only wraps it, so it imports the package
absolutely (evaluate copies this file into its module cache, where relative imports cannot resolve).
"""

import datasets
import evaluate

from signdpo_trl.metrics.slt import compute_slt_metrics


_DESCRIPTION = """\
Corpus BLEU-1..4 (cumulative, sacrebleu), ROUGE-L (F-score x 100 of the `rouge` package, as Uni-Sign and the
gloss-free SLT papers report it) and chrF for sign language translation. `language="zh"` scores Chinese on
characters (CSL-Daily convention); other languages use sacrebleu's 13a tokenizer.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[str]`): one hypothesis per clip.
    references (`list[str]`): one reference per clip.
    language (`str`, defaults to `"en"`): target language; `"zh"` for character-level Chinese scoring.
Returns:
    bleu1, bleu2, bleu3, bleu4, rouge_l, chrf (floats, 0-100) and signature (str).
Examples:
    >>> slt = evaluate.load(SLT_METRIC_PATH)
    >>> slt.compute(predictions=["the cat sat"], references=["the cat sat"])["bleu1"]
    100.0
"""

_CITATION = """\
@inproceedings{li2025unisign,
  title={Uni-Sign: Toward Unified Sign Language Understanding at Scale},
  author={Li, Zecheng and Zhou, Wengang and Zhao, Weichao and Wu, Kepeng and Hu, Hezhen and Li, Houqiang},
  booktitle={International Conference on Learning Representations},
  year={2025}
}
@inproceedings{post-2018-call,
  title={A Call for Clarity in Reporting {BLEU} Scores},
  author={Post, Matt},
  booktitle={Proceedings of the Third Conference on Machine Translation},
  year={2018}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SltMetric(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
            reference_urls=["https://github.com/ZechengLi19/Uni-Sign", "https://github.com/mjpost/sacrebleu"],
        )

    def _compute(self, predictions, references, language: str = "en") -> dict:
        return compute_slt_metrics(predictions, references, language=language)
