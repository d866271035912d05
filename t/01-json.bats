#!/usr/bin/env bats
# json.c through t/jsontest.c: one line per token "TYPE START END SIZE
# LINE:COL", a string's json_str() in brackets ("(-1)" if it fails), an
# integer's json_int() after "="; or "LINE:COL: MSG" and status 1.
bats_require_minimum_version 1.5.0

setup_file() {
	cc -std=c99 -Wall -Wextra -pedantic -D_XOPEN_SOURCE=700 \
	    -I"$BATS_TEST_DIRNAME/.." -o "$BATS_FILE_TMPDIR/jsontest" \
	    "$BATS_TEST_DIRNAME/jsontest.c" "$BATS_TEST_DIRNAME/../json.c"
}

setup() {
	JSONTEST="$BATS_FILE_TMPDIR/jsontest"
	IN="$BATS_TEST_TMPDIR/in.json"
}

# jt FORMAT [NTOK [KEY]]: printf FORMAT into a file, run the driver on it.
jt() {
	printf -- "$1" >"$IN"
	shift
	"$JSONTEST" "$IN" "$@"
}

# expect STATUS OUTPUT FORMAT [NTOK [KEY]]: as jt, naming the case on failure.
expect() {
	local want_status=$1 want=$2
	shift 2
	run jt "$@"
	if [ "$status" -ne "$want_status" ] || [ "$output" != "$want" ]; then
		printf 'input %q\n want %s: %s\n got  %s: %s\n' \
		    "$1" "$want_status" "$want" "$status" "$output"
		return 1
	fi
}

# sweep STATUS: expect STATUS for each "FORMAT|OUTPUT" line of stdin; both
# sides go through printf, so "\\x01" stands for the four bytes \x01.
sweep() {
	local in want
	while IFS='|' read -r in want; do
		expect "$1" "$(printf -- "$want")" "$in"
	done
}

@test "nested object: offsets, sizes, line:col in pre-order" {
	run -0 jt '{"a": {"b": [1, "x"]}, "c": null}'
	[ "$output" = "object 0 33 2 1:1
string 2 3 1 1:2 [a]
object 6 21 1 1:7
string 8 9 1 1:8 [b]
array 12 20 2 1:13
number 13 14 0 1:14 =1
string 17 18 0 1:17 [x]
string 24 25 1 1:24 [c]
null 28 32 0 1:29" ]
}

@test "tokens across lines: tabs and CR count as one column" {
	run -0 jt '{\r\n\t"a": [\n\t\ttrue,\n\t\t"b"\n\t],\n\t"c": {}\n}\n'
	[ "$output" = "object 0 39 2 1:1
string 5 6 1 2:2 [a]
array 9 27 2 2:7
true 13 17 0 3:3
string 22 23 0 4:3 [b]
string 31 32 1 6:2 [c]
object 35 37 0 6:7" ]
}

@test "empty containers and scalars at top level" {
	sweep 0 <<-'EOF'
	{}|object 0 2 0 1:1
	[]|array 0 2 0 1:1
	 [ ] |array 1 4 0 1:2
	{ \n }|object 0 5 0 1:1
	""|string 1 1 0 1:1 []
	true|true 0 4 0 1:1
	false|false 0 5 0 1:1
	null|null 0 4 0 1:1
	 \t\r\n  null \t\r\n |null 6 10 0 2:3
	EOF
}

@test "input with and without a trailing newline, and from stdin" {
	run -0 jt '{"a":1}'
	[ "$output" = "object 0 7 1 1:1
string 2 3 1 1:2 [a]
number 5 6 0 1:6 =1" ]
	run -0 jt '{"a":1}\n'
	[ "$output" = "object 0 7 1 1:1
string 2 3 1 1:2 [a]
number 5 6 0 1:6 =1" ]
	run -0 "$JSONTEST" - < <(printf '[7]')
	[ "$output" = "array 0 3 1 1:1
number 1 2 0 1:2 =7" ]
}

@test "empty and blank input: unexpected end of input where the input ends" {
	sweep 1 <<-'EOF'
	|1:1: unexpected end of input
	   |1:4: unexpected end of input
	\n\n|3:1: unexpected end of input
	\t\r\n |2:2: unexpected end of input
	EOF
}

@test "every syntax error message with its line:col" {
	sweep 1 <<-'EOF'
	[1,|1:4: unexpected end of input
	{"a":1|1:7: unexpected end of input
	{"a"|1:5: unexpected end of input
	{"a":|1:6: unexpected end of input
	[|1:2: unexpected end of input
	[1,\n|2:1: unexpected end of input
	x|1:1: unexpected character 'x'
	[1,]|1:4: unexpected character ']'
	[,1]|1:2: unexpected character ','
	{"a":}|1:6: unexpected character '}'
	]|1:1: unexpected character ']'
	'a'|1:1: unexpected character '''
	\001|1:1: unexpected character '\\x01'
	[\000]|1:2: unexpected character '\\x00'
	\177|1:1: unexpected character '\\x7f'
	\t\t\377|1:3: unexpected character '\\xff'
	{"a" 1}|1:6: expected ':' after object key
	{"a",1}|1:5: expected ':' after object key
	{"a":1 "b":2}|1:8: expected ',' or '}' after object member
	{"a":1]|1:7: expected ',' or '}' after object member
	[1 2]|1:4: expected ',' or ']' after array element
	[1}|1:3: expected ',' or ']' after array element
	{1:2}|1:2: expected string as object key
	{"a":1,}|1:8: expected string as object key
	{,}|1:2: expected string as object key
	{a:1}|1:2: expected string as object key
	{}x|1:3: trailing characters after value
	1 2|1:3: trailing characters after value
	"a""b"|1:4: trailing characters after value
	[] ]|1:4: trailing characters after value
	true\n\n  false|3:3: trailing characters after value
	1\000|1:2: trailing characters after value
	EOF
}

@test "an error on line 3 of a config file" {
	run -1 jt '{\n  "script": "app.js",\n  "workers" 4\n}\n'
	[ "$output" = "3:13: expected ':' after object key" ]
	run -1 jt '{\r\n"a": 1,\r\n\t"b": [1 true]}'
	[ "$output" = "3:10: expected ',' or ']' after array element" ]
}

@test "string errors" {
	sweep 1 <<-'EOF'
	"abc|1:1: unterminated string
	  ["ab|1:4: unterminated string
	{\n  "k|2:3: unterminated string
	"\\x"|1:2: invalid escape in string
	"ab\\'"|1:4: invalid escape in string
	"\\U0041"|1:2: invalid escape in string
	"\\u12G4"|1:2: invalid \\u escape
	"a\\u123"|1:3: invalid \\u escape
	"\\u 123"|1:2: invalid \\u escape
	"\\ud800"|1:2: invalid surrogate pair
	"a\\udc00"|1:3: invalid surrogate pair
	"\\ud800\\u0041"|1:2: invalid surrogate pair
	"\\ud800x\\udc00"|1:2: invalid surrogate pair
	"\\ud800\\n"|1:2: invalid surrogate pair
	"\\ud800\\ud800"|1:2: invalid surrogate pair
	"\\udbff\\ue000"|1:2: invalid surrogate pair
	"a\tb"|1:3: control character in string
	"a\nb"|1:3: control character in string
	"\037"|1:2: control character in string
	"a\000b"|1:3: control character in string
	EOF
}

@test "reading stops at len: input ending inside a string" {
	# The driver puts quotes after the input: a parser reading past len
	# would find the string closed.
	sweep 1 <<-'EOF'
	"abc|1:1: unterminated string
	"|1:1: unterminated string
	{"a\\|1:2: unterminated string
	"\\u00|1:1: unterminated string
	"\\ud83d|1:1: unterminated string
	"\\ud83d\\|1:1: unterminated string
	"\\ud83d\\ude0|1:1: unterminated string
	["x", "|1:7: unterminated string
	EOF
	run -1 "$JSONTEST" - < <(printf '"abc')
	[ "$output" = "1:1: unterminated string" ]
}

@test "every one-letter escape" {
	run -0 jt '"\\"\\\\\\/\\b\\f\\n\\r\\t"'
	[ "$output" = "$(printf 'string 1 17 0 1:1 ["\\/\b\f\n\r\t]')" ]
}

@test "\\u escapes to UTF-8, at every length, either case" {
	sweep 0 <<-'EOF'
	"\\u0041"|string 1 7 0 1:1 [A]
	"\\u007f"|string 1 7 0 1:1 [\177]
	"\\u0080"|string 1 7 0 1:1 [\302\200]
	"\\u00e9\\u00E9"|string 1 13 0 1:1 [\303\251\303\251]
	"\\u07ff"|string 1 7 0 1:1 [\337\277]
	"\\u0800"|string 1 7 0 1:1 [\340\240\200]
	"\\u20AC"|string 1 7 0 1:1 [\342\202\254]
	"\\ufffF"|string 1 7 0 1:1 [\357\277\277]
	"x\\u0041y"|string 1 9 0 1:1 [xAy]
	EOF
}

@test "surrogate pairs to 4-byte UTF-8" {
	run -0 jt '"\\ud83d\\ude00"'
	[ "$(printf '%s\n' "$output" | LC_ALL=C sed -n 's/^string 1 13 0 1:1 \[\(.*\)\]$/\1/p' | od -An -tx1 | tr -d ' \n')" = f09f98800a ]
	sweep 0 <<-'EOF'
	"\\ud800\\udc00"|string 1 13 0 1:1 [\360\220\200\200]
	"\\uDBFF\\uDFFF"|string 1 13 0 1:1 [\364\217\277\277]
	"a\\ud83d\\ude00b"|string 1 15 0 1:1 [a\360\237\230\200b]
	EOF
}

@test "raw bytes above 0x7f pass through" {
	run -0 jt '"\303\251\377"'
	[ "$output" = "$(printf 'string 1 4 0 1:1 [\303\251\377]')" ]
}

@test "json_str rejects \\u0000; the parse succeeds" {
	sweep 0 <<-'EOF'
	"\\u0000"|string 1 7 0 1:1 (-1)
	"ab\\u0000cd"|string 1 11 0 1:1 (-1)
	["\\u0000", "ok"]|array 0 16 2 1:1\nstring 2 8 0 1:2 (-1)\nstring 12 14 0 1:12 [ok]
	EOF
}

@test "valid numbers; json_int only for integers that fit a long long" {
	local n v
	while read -r n v; do
		expect 0 "number 0 ${#n} 0 1:1${v:+ =$v}" "$n"
	done <<-'EOF'
	0 0
	-0 0
	7 7
	-7 -7
	10 10
	1234567890 1234567890
	9223372036854775807 9223372036854775807
	-9223372036854775808 -9223372036854775808
	9223372036854775808
	-9223372036854775809
	99999999999999999999999
	0.5
	-0.5
	10.25
	0.0
	1e5
	1E5
	1e+5
	1e-5
	0e0
	-0E-0
	1.5e10
	123.456E+789
	EOF
}

@test "invalid numbers, at the start of the number" {
	sweep 1 <<-'EOF'
	01|1:1: invalid number
	-01|1:1: invalid number
	00|1:1: invalid number
	1.|1:1: invalid number
	-|1:1: invalid number
	--1|1:1: invalid number
	-a|1:1: invalid number
	-.5|1:1: invalid number
	1e|1:1: invalid number
	1e+|1:1: invalid number
	1E-|1:1: invalid number
	1.e5|1:1: invalid number
	1.2.3|1:1: invalid number
	1e5.5|1:1: invalid number
	1ee5|1:1: invalid number
	1e5e5|1:1: invalid number
	0x1F|1:1: invalid number
	1-|1:1: invalid number
	1+1|1:1: invalid number
	12a|1:1: invalid number
	-Infinity|1:1: invalid number
	[1, 01]|1:5: invalid number
	{"a": 1.}|1:7: invalid number
	.5|1:1: unexpected character '.'
	+1|1:1: unexpected character '+'
	Infinity|1:1: unexpected character 'I'
	NaN|1:1: unexpected character 'N'
	EOF
}

@test "literals are checked in full" {
	sweep 0 <<-'EOF'
	[true,false,null]|array 0 17 3 1:1\ntrue 1 5 0 1:2\nfalse 6 11 0 1:7\nnull 12 16 0 1:13
	EOF
	sweep 1 <<-'EOF'
	tru|1:1: invalid literal
	t|1:1: invalid literal
	nulll|1:1: invalid literal
	trueX|1:1: invalid literal
	true1|1:1: invalid literal
	truefalse|1:1: invalid literal
	nul|1:1: invalid literal
	[fals]|1:2: invalid literal
	{"a": nul}|1:7: invalid literal
	True|1:1: unexpected character 'T'
	true false|1:6: trailing characters after value
	null,|1:5: trailing characters after value
	EOF
}

@test "too many tokens, at the token that does not fit" {
	expect 0 "array 0 9 2 1:1
number 1 2 0 1:2 =1
array 3 8 2 1:4
number 4 5 0 1:5 =2
number 6 7 0 1:7 =3" '[1,[2,3]]' 5
	expect 1 "1:7: too many tokens" '[1,[2,3]]' 4
	expect 1 "1:4: too many tokens" '[1,[2,3]]' 2
	expect 1 "1:1: too many tokens" '[1,[2,3]]' 0
	expect 1 "1:2: too many tokens" '{"a":"b"}' 1
	expect 1 "1:6: too many tokens" '{"a":"b"}' 2
	expect 1 "1:1: too many tokens" '"a"' 0
	# A syntax error before the tokens run out is still reported.
	expect 1 "1:3: expected ',' or ']' after array element" '[1}' 2
}

@test "nesting is limited to 64" {
	local open close
	open=$(printf '%.0s[' $(seq 64))
	close=$(printf '%.0s]' $(seq 64))
	run -0 jt "$open$close"
	[ "${#lines[@]}" -eq 64 ]
	[ "${lines[0]}" = "array 0 128 1 1:1" ]
	[ "${lines[63]}" = "array 63 65 0 1:64" ]
	run -1 jt "$open[$close]"
	[ "$output" = "1:65: nesting too deep" ]
	open=$(printf '%.0s{"a":' $(seq 65))
	close=$(printf '%.0s}' $(seq 65))
	run -1 jt "${open}1$close" 1000
	[ "$output" = "1:321: nesting too deep" ]
	run -0 jt "${open#\{\"a\":}1${close#\}}" 1000
	[ "${#lines[@]}" -eq 129 ]
}

@test "members found with json_streq and skipped with json_next" {
	printf '{"a": {"b": [1, {"c": 2}]}, "d": [true], "k\\u00e9y": "v", "e": 5}' >"$IN"
	run -0 "$JSONTEST" "$IN" 128 e
	[ "$output" = "number 63 64 0 1:64 =5" ]
	run -0 "$JSONTEST" "$IN" 128 d
	[ "$output" = "array 33 39 1 1:34" ]
	run -0 "$JSONTEST" "$IN" 128 "$(printf 'k\303\251y')"
	[ "$output" = "string 54 55 0 1:54 [v]" ]
	run -0 "$JSONTEST" "$IN" 128 c
	[ "$output" = "no c" ]
	run -0 "$JSONTEST" "$IN" 128 k
	[ "$output" = "no k" ]
	run -0 "$JSONTEST" "$IN" 128 "$(printf 'k\303\251yz')"
	[ "$output" = "$(printf 'no k\303\251yz')" ]
	run -0 "$JSONTEST" "$IN" 128 ""
	[ "$output" = "no " ]
	run -0 jt '{"\\u0000": 1, "": 2}' 128 ""
	[ "$output" = "number 18 19 0 1:19 =2" ]
}
