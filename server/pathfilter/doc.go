// Package pathfilter parses and matches the path filter expressions used by
// edgews routes and by the socket service (exists, send, count).
//
// Grammar (the whole expression is one of):
//
//	"*"             every path
//	"/exact/path"   exactly this path ("/a" and "/a/" are different paths)
//	"/prefix/*"     the path "/prefix", "/prefix/" and everything below "/prefix/"
//
// A filter starts with "/" (or is exactly "*"), is at most MaxLen bytes, and
// holds no whitespace, control characters, "?", "#", empty segments ("//") or
// dot segments ("/./", "/../"). A "*" may only appear as the whole last
// segment. "/*" is the same as "*". Errors name the offending part.
//
// Why so small a grammar: it is what the seeds describe (an exact path or a
// "/socket.io/*" style prefix), it can be matched without allocation on the
// hot path, and it has one obvious meaning; regular expressions would invite
// slow and surprising filters from API callers.
package pathfilter
