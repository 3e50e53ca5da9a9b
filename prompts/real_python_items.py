"""Hand-written Python functions for prompts/real-python.json (see README.md).

Each item: (category, name, parameter list as written, one-line docstring, body, example call, expected output).
The expected output is what the reference prints for the call at the doctest prompt (checked by the
test suite, test/score/prompts.test.ts, which runs every example against its reference in the sandbox).
"""
ITEMS = [
    # arithmetic
    ("arithmetic", "add", "a, b", "Add two numbers.", "return a + b", "add(2, 3)", "5"),
    ("arithmetic", "sub", "a, b", "Subtract b from a.", "return a - b", "sub(10, 4)", "6"),
    ("arithmetic", "gcd", "a, b", "Return the greatest common divisor of a and b.", "while b:\n    a, b = b, a % b\nreturn a", "gcd(12, 18)", "6"),
    ("arithmetic", "square", "x", "Return x squared.", "return x * x", "square(7)", "49"),
    ("arithmetic", "clamp", "value, low, high", "Clamp value to the range [low, high].", "return max(low, min(value, high))", "clamp(15, 0, 10)", "10"),
    ("arithmetic", "factorial", "n", "Return n factorial.", "result = 1\nfor i in range(2, n + 1):\n    result *= i\nreturn result", "factorial(5)", "120"),
    ("arithmetic", "mean_of_three", "x, y, z", "Return the mean of three numbers.", "return (x + y + z) / 3", "mean_of_three(1, 2, 6)", "3.0"),
    ("arithmetic", "is_even", "n", "Return True if n is even.", "return n % 2 == 0", "is_even(4)", "True"),
    ("arithmetic", "power_mod", "base, exponent, modulus", "Return base ** exponent modulo modulus.", "return pow(base, exponent, modulus)", "power_mod(2, 10, 1000)", "24"),
    ("arithmetic", "weighted_sum_of_pair", "first_value, second_value, first_weight, second_weight", "Return the weighted sum of two values.", "return first_value * first_weight + second_value * second_weight", "weighted_sum_of_pair(1, 2, 3, 4)", "11"),
    ("arithmetic", "fib", "n", "Return the n-th Fibonacci number.", "a, b = 0, 1\nfor _ in range(n):\n    a, b = b, a + b\nreturn a", "fib(10)", "55"),
    ("arithmetic", "digit_sum", "number", "Return the sum of the decimal digits of number.", "return sum(int(d) for d in str(abs(number)))", "digit_sum(1234)", "10"),
    # string
    ("string", "shout", "text", "Return text in upper case with an exclamation mark.", "return text.upper() + '!'", "shout('hi')", "'HI!'"),
    ("string", "reverse_words", "sentence", "Reverse the order of the words in sentence.", "return ' '.join(reversed(sentence.split()))", "reverse_words('one two three')", "'three two one'"),
    ("string", "count_vowels_in_sentence", "sentence", "Count the vowels in sentence.", "return sum(1 for ch in sentence.lower() if ch in 'aeiou')", "count_vowels_in_sentence('Hello World')", "3"),
    ("string", "is_palindrome", "word", "Return True if word reads the same backwards.", "return word == word[::-1]", "is_palindrome('level')", "True"),
    ("string", "initials", "full_name", "Return the initials of a full name.", "return ''.join(part[0].upper() for part in full_name.split())", "initials('ada lovelace')", "'AL'"),
    ("string", "repeat_string", "text, times, separator", "Repeat text the given number of times, joined by separator.", "return separator.join([text] * times)", "repeat_string('ab', 3, '-')", "'ab-ab-ab'"),
    ("string", "snake_to_camel", "name", "Convert a snake_case name to camelCase.", "head, *rest = name.split('_')\nreturn head + ''.join(w.title() for w in rest)", "snake_to_camel('max_line_length')", "'maxLineLength'"),
    ("string", "pad_left", "text, width, fill", "Pad text on the left with fill up to width.", "return text.rjust(width, fill)", "pad_left('7', 3, '0')", "'007'"),
    ("string", "truncate", "text, limit", "Cut text to at most limit characters, marking cuts with '...'.", "return text if len(text) <= limit else text[:limit] + '...'", "truncate('abcdefgh', 3)", "'abc...'"),
    ("string", "char_frequency", "text", "Return a dict counting each character of text.", "counts = {}\nfor ch in text:\n    counts[ch] = counts.get(ch, 0) + 1\nreturn counts", "char_frequency('abca')", "{'a': 2, 'b': 1, 'c': 1}"),
    # list
    ("list", "total", "values", "Return the sum of values.", "return sum(values)", "total([1, 2, 3])", "6"),
    ("list", "last", "items", "Return the last element of items.", "return items[-1]", "last([4, 5, 6])", "6"),
    ("list", "chunk", "items, size", "Split items into lists of length size.", "return [items[i:i + size] for i in range(0, len(items), size)]", "chunk([1, 2, 3, 4, 5], 2)", "[[1, 2], [3, 4], [5]]"),
    ("list", "flatten", "nested", "Flatten a list of lists.", "return [x for inner in nested for x in inner]", "flatten([[1, 2], [3]])", "[1, 2, 3]"),
    ("list", "dedupe", "items", "Remove duplicates from items, keeping the first occurrence.", "seen = set()\nout = []\nfor x in items:\n    if x not in seen:\n        seen.add(x)\n        out.append(x)\nreturn out", "dedupe([3, 1, 3, 2, 1])", "[3, 1, 2]"),
    ("list", "running_max", "numbers", "Return the running maximum of numbers.", "out = []\nbest = None\nfor x in numbers:\n    best = x if best is None or x > best else best\n    out.append(best)\nreturn out", "running_max([1, 3, 2, 5])", "[1, 3, 3, 5]"),
    ("list", "rotate_left", "items, steps", "Rotate items left by steps positions.", "if not items:\n    return []\nk = steps % len(items)\nreturn items[k:] + items[:k]", "rotate_left([1, 2, 3, 4], 1)", "[2, 3, 4, 1]"),
    ("list", "interleave", "left, right", "Interleave two lists of equal length.", "return [x for pair in zip(left, right) for x in pair]", "interleave([1, 2], ['a', 'b'])", "[1, 'a', 2, 'b']"),
    ("list", "second_largest", "numbers", "Return the second largest distinct value in numbers.", "return sorted(set(numbers))[-2]", "second_largest([4, 1, 4, 3])", "3"),
    ("list", "count_in_range", "numbers, lower_bound, upper_bound", "Count the numbers with lower_bound <= n < upper_bound.", "return sum(1 for n in numbers if lower_bound <= n < upper_bound)", "count_in_range([1, 5, 7, 10], 5, 10)", "2"),
    ("list", "pairwise_differences", "values", "Return the differences between consecutive values.", "return [b - a for a, b in zip(values, values[1:])]", "pairwise_differences([1, 4, 9, 16])", "[3, 5, 7]"),
    # dict
    ("dict", "invert", "mapping", "Swap the keys and values of mapping.", "return {v: k for k, v in mapping.items()}", "invert({'a': 1, 'b': 2})", "{1: 'a', 2: 'b'}"),
    ("dict", "get_or_default", "mapping, key, default", "Return mapping[key], or default when key is missing.", "return mapping.get(key, default)", "get_or_default({'x': 1}, 'y', 0)", "0"),
    ("dict", "merge_counts", "first, second", "Add up two dicts of counts.", "out = dict(first)\nfor k, v in second.items():\n    out[k] = out.get(k, 0) + v\nreturn out", "merge_counts({'a': 1}, {'a': 2, 'b': 1})", "{'a': 3, 'b': 1}"),
    ("dict", "keys_with_value", "mapping, target", "Return the sorted keys whose value equals target.", "return sorted(k for k, v in mapping.items() if v == target)", "keys_with_value({'b': 1, 'a': 1, 'c': 2}, 1)", "['a', 'b']"),
    ("dict", "group_by_length", "words", "Group words by their length.", "groups = {}\nfor w in words:\n    groups.setdefault(len(w), []).append(w)\nreturn groups", "group_by_length(['a', 'bb', 'c'])", "{1: ['a', 'c'], 2: ['bb']}"),
    # logic / predicates
    ("logic", "xor", "p, q", "Return the exclusive or of two booleans.", "return p != q", "xor(True, False)", "True"),
    ("logic", "all_positive", "numbers", "Return True if every number is positive.", "return all(n > 0 for n in numbers)", "all_positive([1, 2, -3])", "False"),
    ("logic", "is_leap_year", "year", "Return True if year is a leap year.", "return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)", "is_leap_year(2024)", "True"),
    ("logic", "in_bounds", "row, col, height, width", "Return True if (row, col) lies inside a height x width grid.", "return 0 <= row < height and 0 <= col < width", "in_bounds(2, 3, 3, 3)", "False"),
    ("logic", "is_sorted", "items", "Return True if items is in non-decreasing order.", "return all(a <= b for a, b in zip(items, items[1:]))", "is_sorted([1, 2, 2, 5])", "True"),
    # conversion
    ("conversion", "celsius_to_fahrenheit", "celsius", "Convert degrees Celsius to Fahrenheit.", "return celsius * 9 / 5 + 32", "celsius_to_fahrenheit(100)", "212.0"),
    ("conversion", "to_binary", "n", "Return the binary digits of a non-negative integer.", "return bin(n)[2:]", "to_binary(10)", "'1010'"),
    ("conversion", "parse_csv_line", "line", "Split a comma-separated line into stripped fields.", "return [field.strip() for field in line.split(',')]", "parse_csv_line('a, b ,c')", "['a', 'b', 'c']"),
    ("conversion", "seconds_to_hms", "seconds", "Convert seconds to an (hours, minutes, seconds) tuple.", "return (seconds // 3600, seconds % 3600 // 60, seconds % 60)", "seconds_to_hms(3725)", "(1, 2, 5)"),
    ("conversion", "rgb_to_hex", "red, green, blue", "Format an RGB colour as a hex string.", "return '#{:02x}{:02x}{:02x}'.format(red, green, blue)", "rgb_to_hex(255, 128, 0)", "'#ff8000'"),
    # no parameters / defaults
    ("constant", "default_port", "", "Return the default HTTP port.", "return 80", "default_port()", "80"),
    ("constant", "greeting", "name='world'", "Return a greeting for name.", "return 'Hello, ' + name + '!'", "greeting('Ada')", "'Hello, Ada!'"),
    ("arithmetic", "scale_vector", "vector, factor=2", "Multiply every component of vector by factor.", "return [factor * x for x in vector]", "scale_vector([1, 2], factor=3)", "[3, 6]"),
    ("string", "join_with", "parts, sep=', '", "Join parts with sep.", "return sep.join(parts)", "join_with(['a', 'b'])", "'a, b'"),
]
