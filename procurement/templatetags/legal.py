"""`{% legal_rule "R2122-1" %}`: the short help text of a legal rule and a link to its official text.

The code must be a quoted literal found in procurement.legal.RULES; anything else is a TemplateSyntaxError
raised when the template is compiled, in every environment, so that a typo cannot reach a page unnoticed (the
test suite compiles every template).
"""

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext

from procurement import legal

register = template.Library()


class LegalRuleNode(template.Node):
    def __init__(self, rule: legal.LegalRule):
        self.rule = rule

    def render(self, context):
        rule = self.rule
        return format_html(
            '<p class="legal-rule small" data-rule="{}">{} '
            '<a href="{}" target="_blank" rel="noopener">{}<span class="visually-hidden"> ({})</span></a></p>',
            rule.code,
            rule.help,
            rule.url,
            rule.title,
            gettext("%(site)s, opens in a new window") % {"site": rule.site},
        )


@register.tag("legal_rule")
def legal_rule(parser, token):
    bits = token.split_contents()
    if len(bits) != 2 or bits[1][:1] not in "\"'" or bits[1][-1:] != bits[1][:1]:
        raise template.TemplateSyntaxError('Usage: {% legal_rule "R2122-1" %} (one quoted rule code).')
    code = bits[1][1:-1]
    try:
        return LegalRuleNode(legal.rule(code))
    except legal.UnknownLegalRule:
        raise template.TemplateSyntaxError(
            f"legal_rule: unknown rule {code!r}; add it to procurement.legal.RULES first."
        ) from None
