/**
 * testEnd: where generation stops. Python: example line (+ `...` continuations) + expected-output line;
 * Rust: the `}` closing the test function, with braces in literals and comments ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promptOpenBraces, testEnd } from '../../src/score/test-end.ts';
import { testEndFor } from '../../src/score/score.ts';
import { loadPrompts } from '../../src/score/prompts-schema.ts';

const cut = (lang: 'python' | 'rust', s: string, open = 1) => {
  const e = testEnd(lang, s, open);
  return e === null ? null : s.slice(0, e);
};

test('python: example line plus its expected-output line', () => {
  assert.equal(cut('python', ' add(1, 2)\n    3\n    >>> add(2, 2)\n    4\n'), ' add(1, 2)\n    3\n');
  assert.equal(cut('python', 'add(1, 2)\n        3\n    """\n    return a + b\n'), 'add(1, 2)\n        3\n');
  // incomplete: no example line yet, the expected line not finished, the next line not known yet
  assert.equal(testEnd('python', ' add(1, 2)'), null);
  assert.equal(testEnd('python', ' add(1, 2)\n    3'), null);
  assert.equal(testEnd('python', ' add(1, 2)\n'), null);
  assert.equal(testEnd('python', ''), null);
});

test('python: continuation lines belong to the example; no-output examples end at a blank line, >>> or the docstring end', () => {
  assert.equal(cut('python', ' f([1,\n    ... 2])\n    3\nrest\n'), ' f([1,\n    ... 2])\n    3\n');
  assert.equal(cut('python', ' x = f(1)\n    >>> x\n'), ' x = f(1)\n');
  assert.equal(cut('python', ' print(end="")\n\n'), ' print(end="")\n');
  assert.equal(cut('python', ' f()\n    """\n'), ' f()\n');
  assert.equal(testEnd('python', ' f([1,\n    ... 2])\n'), null);
});

test('rust: the brace that closes the test function', () => {
  const body = '    assert_eq!(add(2, 3), 5);\n}\n\nfn more() {}\n';
  assert.equal(cut('rust', body), '    assert_eq!(add(2, 3), 5);\n}');
  assert.equal(cut('rust', 'add(2, 3), 5);\n}'), 'add(2, 3), 5);\n}');
  assert.equal(testEnd('rust', '    let v = vec![1, 2];\n    if v.len() > 1 { assert!(true); }\n'), null);
  assert.equal(cut('rust', '    if x { y(); }\n}\nz'), '    if x { y(); }\n}');
  // prompts that end two braces deep (mod tests { fn test() {): the test ends at the first depth-1 close
  assert.equal(cut('rust', 'f(1), 2);\n    }\n}\n', 2), 'f(1), 2);\n    }\n}');
});

test('rust: braces in strings, raw strings, chars, comments and lifetimes are not counted', () => {
  const s = [
    '    let a = "}";',
    '    let b = r#"}"}"#;',
    "    let c = '}';",
    "    let e = '\\u{7d}';",
    '    // }',
    '    /* } /* } */ } */',
    "    fn g<'a>(x: &'a str) -> &'a str { x }",
    '    assert_eq!(f("\\"}"), 1);',
    '}',
    'after',
  ].join('\n');
  assert.equal(cut('rust', s), s.slice(0, s.lastIndexOf('}') + 1));
  assert.equal(testEnd('rust', '    let a = "unterminated }'), null);
  assert.equal(testEnd('rust', '    /* } '), null);
});

test('openBraces is validated; promptOpenBraces and testEndFor read the prompt', () => {
  assert.throws(() => testEnd('rust', '}', 0), /openBraces must be an integer >= 1/);
  assert.equal(promptOpenBraces('fn f() {\n    "{"\n}\n\n#[test]\nfn test_f() {\n    assert_eq!('), 1);
  assert.equal(promptOpenBraces('#[cfg(test)]\nmod tests {\n    #[test]\n    fn t() {\n'), 2);
  const org = loadPrompts('prompts/organism.json');
  const rs = org.groups.rust![0]!;
  assert.equal(testEndFor(rs, rs.solution!), rs.solution!.lastIndexOf('}') + 1);
  const py = org.groups.python![0]!;
  assert.equal(testEndFor(py, py.solution! + '    >>> more()\n'), py.solution!.length);
});
