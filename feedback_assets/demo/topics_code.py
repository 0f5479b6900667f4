"""Topic templates of the code-assistant deployment (see `corpus`)."""

from feedback_assets.demo.topics import Topic

CODE_TOPICS = (
    Topic(
        "python",
        "code",
        (
            "How do I read a CSV file and sum the {col} column in Python?",
            "Write a Python function `{func}` that removes duplicates from a list but keeps order.",
            "What's the idiomatic way to retry `{func}` three times with a delay?",
            "How can I parse dates like 2026-03-14 into datetime objects?",
            "Explain the difference between a list and a tuple, with an example using {col}.",
            "Why does my `{func}` function mutate the default argument list?",
            "How do I write a dataclass for a {table} record with a {col} field?",
        ),
        (
            "For large files, iterate in chunks instead of loading everything into memory.",
            "This keeps the first occurrence of each item and preserves the original order.",
            "Wrap the call in try/except and sleep with exponential backoff between attempts.",
            "The standard library covers this without extra dependencies.",
            "Tuples are immutable, which makes them usable as dictionary keys.",
            "A default argument is evaluated once, so use None and create the list inside.",
            "Type hints make the function easier to read and to check with mypy.",
            "You can run it with Python 3.11 or later.",
            "Add a unit test with pytest to lock the behaviour in.",
        ),
        snippets=(
            "import csv\n\nwith open('{table}.csv') as f:\n"
            "    total = sum(float(row['{col}']) for row in csv.DictReader(f))\nprint(total)",
            "def {func}(items):\n    seen = set()\n"
            "    return [x for x in items if not (x in seen or seen.add(x))]",
            "import time\n\ndef {func}(fn, attempts=3, delay=1.0):\n    for i in range(attempts):\n"
            "        try:\n            return fn()\n        except Exception:\n"
            "            time.sleep(delay * 2 ** i)\n    return fn()",
            "from datetime import datetime\n\nparsed = datetime.strptime('2026-03-14', '%Y-%m-%d')",
            "items = ['{col}', '{col2}']  # list: mutable\nkey = ('{col}', 1)  # tuple: hashable\n"
            "counts = {{key: 0}}",
            "def {func}(items=None):\n    items = [] if items is None else items\n"
            "    items.append(1)\n    return items",
            "from dataclasses import dataclass\n\n@dataclass(frozen=True)\nclass Record:\n"
            "    id: int\n    {col}: str",
        ),
    ),
    Topic(
        "pandas",
        "code",
        (
            "How do I group a pandas DataFrame by {col} and compute the mean of {col2}?",
            "My merge of {table} and orders produces duplicate rows. Why?",
            "How to fill missing values in {col} with the median per group?",
            "What's the fastest way to filter rows where {col} is in a list?",
            "Convert a {table} DataFrame column {col} from string to datetime.",
        ),
        (
            "groupby followed by agg is the idiomatic way and stays vectorized.",
            "Duplicate rows after a merge mean the key is not unique on one side.",
            "transform returns a result aligned with the original index.",
            "isin is vectorized and much faster than a Python loop.",
            "pd.to_datetime accepts a format argument that speeds up parsing.",
            "Use validate='one_to_one' in merge to catch that early.",
            "Avoid iterrows on large frames; it is orders of magnitude slower.",
        ),
        snippets=(
            "df.groupby('{col}', as_index=False)['{col2}'].mean()",
            "merged = {table}.merge(orders, on='{col}', how='left', validate='one_to_one')",
            "df['{col}'] = df['{col}'].fillna(df.groupby('{col2}')['{col}'].transform('median'))",
            "subset = df[df['{col}'].isin(wanted)]",
            "df['{col}'] = pd.to_datetime(df['{col}'], format='%Y-%m-%d', utc=True)",
        ),
    ),
    Topic(
        "sql",
        "code",
        (
            "Write a SQL query that returns the top 5 {table} by total {col}.",
            "How do I find duplicate {col} values in the {table} table?",
            "What index should I add to speed up filtering {table} by {col}?",
            "Explain a LEFT JOIN between {table} and orders on {col2}.",
            "How do I compute a running total of {col} per day in PostgreSQL?",
        ),
        (
            "ORDER BY plus LIMIT is enough for a simple top-N query.",
            "GROUP BY with HAVING COUNT(*) > 1 lists the duplicated values.",
            "A B-tree index on the filtered column usually helps.",
            "A LEFT JOIN keeps every row of the left table, with NULLs where nothing matches.",
            "Window functions compute running totals without a self-join.",
            "Check the plan with EXPLAIN ANALYZE before and after adding the index.",
        ),
        fence="sql",
        snippets=(
            "SELECT {col2}, SUM({col}) AS total\nFROM {table}\nGROUP BY {col2}\n"
            "ORDER BY total DESC\nLIMIT 5;",
            "SELECT {col}, COUNT(*)\nFROM {table}\nGROUP BY {col}\nHAVING COUNT(*) > 1;",
            "CREATE INDEX idx_{table}_{col} ON {table} ({col});",
            "SELECT t.*, o.id\nFROM {table} t\nLEFT JOIN orders o ON o.{col2} = t.{col2};",
            "SELECT day, SUM({col}) OVER (ORDER BY day) AS running_total\nFROM {table};",
        ),
    ),
    Topic(
        "debugging",
        "code",
        (
            "I get KeyError: '{col}' when accessing my dict. How do I fix it?",
            "Why does `{func}` raise TypeError: 'NoneType' object is not subscriptable?",
            "My script fails with ModuleNotFoundError: No module named '{lib}'.",
            "RecursionError in `{func}` when the input gets large. Any ideas?",
            "Why is my loop over {table} so slow with pandas {version}?",
        ),
        (
            "The key is missing for some records, so use .get with a default.",
            "A function without a return statement returns None.",
            "Install the package into the same virtual environment you run the script with.",
            "Convert the recursion to a loop, or raise the limit only as a last resort.",
            "Vectorized operations avoid the per-row Python overhead.",
            "Print the value just before the failing line to confirm what it holds.",
        ),
        snippets=(
            "value = record.get('{col}', default)",
            "def {func}(data):\n    result = transform(data)\n    return result",
            "python -m pip install {lib}",
            "def {func}(n):\n    total = 0\n    while n > 0:\n        total += n\n        n -= 1\n"
            "    return total",
            "df['{col}'] = df['{col}'] * 2  # one vectorized operation instead of a loop",
        ),
    ),
    Topic(
        "llm_api",
        "code",
        (
            "How do I stream tokens from a chat completion API in Python?",
            "My embedding calls hit rate limits. How should I batch {table} documents?",
            "How do I build a vector search over {table} with cosine similarity?",
            "Write `{func}` that retries LLM calls on HTTP 429 with jitter.",
        ),
        (
            "Streaming returns chunks as they are generated, which lowers perceived latency.",
            "Batch inputs into requests of a few hundred items to stay under the limits.",
            "Normalize the vectors once so cosine similarity becomes a dot product.",
            "Respect the Retry-After header when the server sends one.",
            "Cache embeddings by content hash so unchanged documents are not re-sent.",
            "Keep prompts short; cost grows with every input token.",
        ),
        drift=True,
        snippets=(
            "for chunk in client.chat.completions.create(model=m, messages=msgs, stream=True):\n"
            "    print(chunk.choices[0].delta.content or '', end='')",
            "for batch in chunked({table}, 256):\n    vectors.extend(embed(batch))",
            "vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)\n"
            "scores = vectors @ query",
            "def {func}(call):\n    for attempt in range(5):\n        resp = call()\n"
            "        if resp.status_code != 429:\n            return resp\n"
            "        time.sleep(2**attempt + random.random())\n    return call()",
        ),
    ),
)
