# Wrap "one comment, then two or more declarations" in a Doxygen member
# group (doxygen-filter.sh runs it first), so that DISTRIBUTE_GROUP_DOC gives
# each declaration the comment. A comment over a struct or enum is left as
# it is.
function flush(   i, decls, braces) {
    decls = 0; braces = 0
    for (i = 1; i <= nd; i++) {
        if (dl[i] ~ /[{}]/) braces = 1
        if (dl[i] ~ /\);[[:space:]]*$/) decls++
    }
    if (nc > 0 && decls >= 2 && !braces) print "/**@{*/"
    for (i = 1; i <= nc; i++) print cl[i]
    for (i = 1; i <= nd; i++) print dl[i]
    if (nc > 0 && decls >= 2 && !braces) print "/**@}*/"
    nc = 0; nd = 0; state = 0
}
{
    line = $0
    if (state == 0) {
        if (line ~ /^\/\*/ && line !~ /^\/\* ----/ && NR > 1) {
            nc = 1; cl[1] = line; nd = 0
            state = (line ~ /\*\//) ? 2 : 1
            next
        }
        print line; next
    }
    if (state == 1) {            # inside the comment
        cl[++nc] = line
        if (line ~ /\*\//) state = 2
        next
    }
    # state 2: the declarations after it, up to a blank line, a comment or a directive
    if (line ~ /^[[:space:]]*$/ || line ~ /^\/\*/ || line ~ /^#/) {
        flush()
        # this line starts over
        if (line ~ /^\/\*/ && line !~ /^\/\* ----/) { nc = 1; cl[1] = line; state = (line ~ /\*\//) ? 2 : 1; next }
        print line; next
    }
    dl[++nd] = line
}
END { if (state) flush() }
