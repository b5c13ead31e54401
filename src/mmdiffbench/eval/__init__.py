"""Full-ranking evaluation: Recall / Precision / NDCG at K, overall and per user group."""

from mmdiffbench.eval.evaluate import evaluate_model
from mmdiffbench.eval.metrics import METRICS, metric_key, per_user_metrics
from mmdiffbench.eval.ranking import RankingResult, rank_split

__all__ = ["METRICS", "RankingResult", "evaluate_model", "metric_key", "per_user_metrics", "rank_split"]
