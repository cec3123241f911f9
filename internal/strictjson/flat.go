package strictjson

// The requests of the hot paths are small flat objects: a few members, each
// a plain string or an integer, such as {"userId":"user_alice"}. parseFlat
// reads exactly those, and declines anything else, which ParseObject then
// hands to encoding/json's decoder for the full rules and a precise error.
// FuzzFlatAgrees holds the two to the same answers.

// parseFlat parses data as one object of allowed, distinct member names
// whose values are integer literals or strings of printable ASCII without
// escapes, with JSON whitespace between tokens. ok is false when data is
// anything else, valid or not; the members then are nil.
func parseFlat(data []byte, allowed []string) (m Members, ok bool) {
	i := skipSpace(data, 0)
	if i == len(data) || data[i] != '{' {
		return nil, false
	}
	m = make(Members, 0, len(allowed))
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return m, skipSpace(data, i+1) == len(data)
	}
	for {
		name, next, ok := plainString(data, i)
		if !ok {
			return nil, false
		}
		key, known := allowedName(allowed, name[1:len(name)-1])
		if _, dup := m.Raw(key); dup || !known {
			return nil, false
		}
		i = skipSpace(data, next)
		if i == len(data) || data[i] != ':' {
			return nil, false
		}
		i = skipSpace(data, i+1)
		var value []byte
		if value, next, ok = plainString(data, i); !ok {
			if value, next, ok = intLiteral(data, i); !ok {
				return nil, false
			}
		}
		m = append(m, Member{Name: key, Value: value})
		i = skipSpace(data, next)
		if i == len(data) {
			return nil, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return m, skipSpace(data, i+1) == len(data)
		default:
			return nil, false
		}
	}
}

// allowedName returns the name in allowed that equals name: the member's
// name without a string of its own.
func allowedName(allowed []string, name []byte) (string, bool) {
	for _, a := range allowed {
		if a == string(name) {
			return a, true
		}
	}
	return "", false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// plainString returns the string literal at data[i:], quotes included, when
// it holds printable ASCII and no escape.
func plainString(data []byte, i int) (lit []byte, next int, ok bool) {
	if i == len(data) || data[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return data[i : j+1], j + 1, true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return nil, i, false
		}
	}
	return nil, i, false
}

// intLiteral returns the integer literal at data[i:] (no fraction, no
// exponent, no leading zero), which must end at a delimiter.
func intLiteral(data []byte, i int) (lit []byte, next int, ok bool) {
	j := i
	if j < len(data) && data[j] == '-' {
		j++
	}
	start := j
	for j < len(data) && '0' <= data[j] && data[j] <= '9' {
		j++
	}
	if j == start || (data[start] == '0' && j-start > 1) {
		return nil, i, false
	}
	if j < len(data) && data[j] != ',' && data[j] != '}' && data[j] != ' ' && data[j] != '\t' && data[j] != '\n' && data[j] != '\r' {
		return nil, i, false // 1.5, 1e3, 12abc: the decoder's to judge
	}
	return data[i:j], j, true
}

// plainValue returns the contents of a string literal that parseFlat would
// take, and whether raw is one.
func plainValue(raw []byte) (string, bool) {
	lit, next, ok := plainString(raw, 0)
	if !ok || next != len(raw) {
		return "", false
	}
	return string(lit[1 : len(lit)-1]), true
}
