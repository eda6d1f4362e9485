"""Wall time and memory of the web at a million pages: growth, ageing, CSR and crawls.

Run: .venv/bin/python benchmarks/bench_web.py
"""

import resource
import time

import numpy as np

from ecosystem.world.crawl import CRAWLERS, make_crawler
from ecosystem.world.web import HUMAN, Web

PAGES = 1_000_000
BATCH = 1_000
DIM = 16
TOPICS = 50
BUDGET = 50_000


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (ru_maxrss is in kilobytes on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    imports = peak_rss_mib()
    rng = np.random.default_rng(0)
    popularity = 1.0 / np.arange(1, TOPICS + 1) ** 1.1
    popularity /= popularity.sum()
    web = Web(DIM)
    adding = linking = 0.0
    for step in range(PAGES // BATCH):
        content = rng.normal(size=(BATCH, DIM)).astype(np.float32)
        topics = rng.choice(TOPICS, size=BATCH, p=popularity)
        start = time.perf_counter()
        new = web.add_pages(content, origin=HUMAN, topic=topics, quality=0.0, step=step)
        middle = time.perf_counter()
        web.link_new_pages(new, rng, links_per_page=5.0, attachment=1.0, homophily=0.5)
        adding += middle - start
        linking += time.perf_counter() - middle
    print(f"{web!r}")
    print(f"\n{PAGES:,} pages in {PAGES // BATCH:,} batches of {BATCH:,}")
    print(f"  {'add_pages (all batches)':<44}{adding:8.3f} s")
    print(f"  {'link_new_pages (5/page, attach 1, homoph 0.5)':<44}{linking:8.3f} s")

    start = time.perf_counter()
    died = web.step(rng, death_rate=0.01, traffic_decay=0.1)
    print(f"  {'step (death 1%, recount in-degree)':<44}{time.perf_counter() - start:8.3f} s")
    print(f"    {died.size:,} pages died")

    start = time.perf_counter()
    _, indices = web.csr()
    print(
        f"  {f'csr build ({indices.size:,} alive links)':<44}{time.perf_counter() - start:8.3f} s"
    )
    start = time.perf_counter()
    web.csr()
    print(f"  {'csr again (cached)':<44}{time.perf_counter() - start:8.6f} s")

    in_degree = web.in_degree
    isolated = in_degree == 0
    hub = in_degree >= np.quantile(in_degree, 0.9)
    print(f"\ncrawls of {BUDGET:,} pages; web: in-degree 0 {isolated.mean():.1%}, ", end="")
    print(f"top decile {hub.mean():.1%}")
    print(
        f"  {'crawler':<12}{'seconds':>9}{'pages':>9}{'in-deg 0':>10}{'top dec':>9}{'mean in':>9}"
    )
    for name in CRAWLERS:
        start = time.perf_counter()
        pages = make_crawler(name).select(web, BUDGET, np.random.default_rng(1))
        seconds = time.perf_counter() - start
        print(
            f"  {name:<12}{seconds:9.3f}{pages.size:9,}{isolated[pages].mean():10.1%}"
            f"{hub[pages].mean():9.1%}{in_degree[pages].mean():9.1f}"
        )

    print(f"\nweb.nbytes {web.nbytes / 2**20:.1f} MiB")
    print(f"peak RSS {peak_rss_mib():.0f} MiB ({imports:.0f} MiB after imports, torch included)")


if __name__ == "__main__":
    main()
