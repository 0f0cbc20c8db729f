"""Issue 8: every list says, when it is empty, what that means and what to do next — with a link to the action
when the user looking at it may take it, and no such link when they may not.

Each row renders a real page (English, the source strings) with the list empty, as a given role, and looks for
an element of class "empty-state" holding the sentences and, where relevant, the link.
"""

from dataclasses import dataclass, field

import pytest
from django.urls import reverse
from django.utils import timezone

from execution import services as execution_services
from procurement import services as case_services
from suppliers.models import SanctionsList
from tests import factories
from tests.factories import add_offer, make_case, make_contract
from tests.ui.empty import empty_states

pytestmark = pytest.mark.django_db

CASE_LIST = reverse("procurement:case_list")


@dataclass
class Empty:
    """What the page must show: sentences (all in one empty-state block) and the links that block holds."""

    texts: tuple[str, ...]
    links: tuple[tuple[str, str], ...] = ()  # (href, label); () means the block offers no link at all
    any_link: bool = False  # True: do not check that the block has no other link


@dataclass
class Row:
    role: str
    url: object  # (world) -> str
    expected: list[Empty] = field(default_factory=list)


class World:
    """Users of one organisation, and the objects a row builds on demand (through the services)."""

    def __init__(self, buyer, jurist, director):
        self.users = {"buyer": buyer, "jurist": jurist, "director": director}
        self.buyer, self.jurist, self.director = buyer, jurist, director

    def case_at_vetting(self, *, offer=False):
        case = make_case(self.buyer, "need")
        case = case_services.case_submit(case=case, actor=self.buyer)
        if offer:
            add_offer(case, self.buyer)
        return case

    def offer_in_negotiation_without_round(self):
        case = make_case(self.buyer, "norm_check")
        case = case_services.case_start_negotiation(case=case, actor=self.buyer)
        return case.offers.get()

    def supplier(self):
        return factories.SupplierFactory(organisation=self.buyer.organisation, created_by=self.buyer)

    def signed_contract(self):
        factories.SignatureDelegationFactory(delegate=self.director)
        return make_contract(self.buyer, "signed", jurist=self.jurist, signer=self.director)

    def notified_contract(self):
        factories.SignatureDelegationFactory(delegate=self.director)
        return make_contract(self.buyer, "notified", jurist=self.jurist, signer=self.director)

    def shipment(self):
        contract = self.signed_contract()
        lot = execution_services.lot_add(
            contract=contract,
            actor=self.buyer,
            quantity=1000,
            due_on=timezone.localdate(),
            delivery_place="Marseille",
            incoterm="DAP",
        )
        execution_services.shipment_add(lot=lot, actor=self.buyer, quantity=1000, mode="air")
        return contract

    def lot(self):
        contract = self.signed_contract()
        execution_services.lot_add(
            contract=contract,
            actor=self.buyer,
            quantity=1000,
            due_on=timezone.localdate(),
            delivery_place="Marseille",
            incoterm="DAP",
        )
        return contract


def _url(name, *args):
    return reverse(name, args=args)


def _execution(contract):
    return _url("execution:contract", contract.pk)


def _supplier_with_lists(world):
    SanctionsList.objects.create(
        source=SanctionsList.Source.FR, version="2026-01-01", imported_at=timezone.now(), sha256="a" * 64
    )
    return world.supplier().get_absolute_url()


ROWS = {
    # --- case list -----------------------------------------------------------------------------------------
    "case-list-buyer": Row(
        "buyer",
        lambda w: CASE_LIST,
        [Empty(("No case yet.", "argue the urgency"), ((reverse("procurement:case_create"), "Open the first case"),))],
    ),
    "case-list-jurist": Row(
        "jurist", lambda w: CASE_LIST, [Empty(("No case yet.", "A buyer opens cases; they will appear here."))]
    ),
    "case-list-filtered": Row(
        "buyer",
        lambda w: CASE_LIST + "?q=introuvable",
        [Empty(("No case matches these filters.", "clear them"), ((CASE_LIST, "Clear the filters"),))],
    ),
    # --- suppliers ----------------------------------------------------------------------------------------
    "supplier-list-buyer": Row(
        "buyer",
        lambda w: reverse("suppliers:list"),
        [
            Empty(
                ("No supplier yet.", "Start with a supplier"),
                ((reverse("suppliers:create"), "Record the first supplier"),),
            )
        ],
    ),
    "supplier-list-jurist": Row(
        "jurist",
        lambda w: reverse("suppliers:list"),
        [Empty(("No supplier yet.", "A buyer records the suppliers"))],
    ),
    "supplier-list-search": Row(
        "buyer",
        lambda w: reverse("suppliers:list") + "?q=introuvable",
        [Empty(("No supplier matches this search.",), ((reverse("suppliers:list"), "Clear the search"),))],
    ),
    "supplier-page-buyer": Row(
        "buyer",
        lambda w: w.supplier().get_absolute_url(),
        [
            Empty(
                ("No document yet.", "URSSAF vigilance certificate"),
                (("documents/ajouter/", "Add the first document"),),
            ),
            Empty(
                ("No other establishment recorded.", "Record another site"),
                (("etablissements/ajouter/", "Record another establishment"),),
            ),
            Empty(("No offer from this supplier yet.", "Offers are recorded on the page of a case")),
            Empty(("No vetting decision yet.", "A buyer vets the supplier")),
            Empty(("No contract won yet.", "once an offer of this supplier is awarded")),
            Empty(("No change since it was created.", "Every change of its identity")),
        ],
    ),
    "supplier-page-jurist": Row(
        "jurist",
        lambda w: w.supplier().get_absolute_url(),
        [Empty(("No document yet.", "A buyer adds the supplier's documents"))],
    ),
    "supplier-never-screened": Row(
        "jurist",
        _supplier_with_lists,
        [Empty(("This supplier has never been screened against the sanctions lists.", "“Screen now”"))],
    ),
    # --- the case and its sub-lists ---------------------------------------------------------------------
    "case-without-offer": Row(
        "buyer",
        lambda w: w.case_at_vetting().get_absolute_url(),
        [
            Empty(("No offer yet.", "what a supplier sent you"), (("offres/nouvelle/", "Record the first offer"),)),
            Empty(("No vetting decision yet.", "Once offers are recorded")),
            Empty(("No contract yet.", "Contracts are created when the offers of the case are awarded")),
        ],
    ),
    "case-without-offer-jurist": Row(
        "jurist",
        lambda w: w.case_at_vetting().get_absolute_url(),
        [Empty(("No offer yet.", "The buyers of the case record the offers received"))],
    ),
    "case-without-vetting": Row(
        "buyer",
        lambda w: w.case_at_vetting(offer=True).get_absolute_url(),
        [
            Empty(
                ("No vetting decision yet.", "Open each supplier's file"),
                (("verification/", "Vet the first supplier"),),
            )
        ],
    ),
    "case-ready-to-award": Row(
        "buyer",
        lambda w: make_case(w.buyer, "negotiation").get_absolute_url(),
        [Empty(("No contract yet.", "Award the offers"), (("attribution/", "Award the offers"),))],
    ),
    "comparison-without-offer": Row(
        "buyer",
        lambda w: _url("procurement:offer_comparison", w.case_at_vetting().pk),
        [Empty(("No offer to compare yet.", "side by side"), (("offres/nouvelle/", "Record the first offer"),))],
    ),
    "vetting-without-offer": Row(
        "buyer",
        lambda w: _url("procurement:vetting_create", w.case_at_vetting().pk),
        [Empty(("No supplier has made an offer on this case yet",), (("offres/nouvelle/", "Add an offer"),))],
    ),
    "offer-without-round": Row(
        "buyer",
        lambda w: _url("procurement:offer_detail", w.offer_in_negotiation_without_round().pk),
        [
            Empty(("No negotiation round yet", "final terms"), (("negociation/", "Record a negotiation round"),)),
            Empty(("Only the supplier is known.", "screened"), (("chaine/ajouter/", "Add a company of the chain"),)),
        ],
    ),
    "offer-without-round-jurist": Row(
        "jurist",
        lambda w: _url("procurement:offer_detail", w.offer_in_negotiation_without_round().pk),
        [
            Empty(("No negotiation round yet", "The buyers of the case record the rounds")),
            Empty(("Only the supplier is known.", "A buyer of the case adds the other companies")),
        ],
    ),
    # --- contracts --------------------------------------------------------------------------------------
    "contract-list": Row(
        "jurist",
        lambda w: reverse("contracts:list"),
        [Empty(("No contract yet.", "awarded"), ((CASE_LIST, "See the cases"),))],
    ),
    "review-queue": Row(
        "jurist",
        lambda w: reverse("contracts:list") + "?status=legal_review",
        [
            Empty(
                ("No contract awaits the legal review.", "inbox"), ((reverse("contracts:list"), "Show every contract"),)
            )
        ],
    ),
    "contract-list-status": Row(
        "buyer",
        lambda w: reverse("contracts:list") + "?status=signed",
        [Empty(("No contract has this status.",), ((reverse("contracts:list"), "Show every contract"),))],
    ),
    "contract-without-modification": Row(
        "buyer",
        lambda w: w.notified_contract().get_absolute_url(),
        [Empty(("No modification yet", "avenant"), (("#record-modification", "Record a modification (avenant)"),))],
    ),
    # --- inbox, dashboard -------------------------------------------------------------------------------
    "inbox": Row(
        "buyer",
        lambda w: reverse("notifications:inbox"),
        [Empty(("No notification.", "the steps that await you"), ((CASE_LIST, "See the cases"),))],
    ),
    "dashboard": Row(
        "director",
        lambda w: reverse("dashboard:index"),
        [
            Empty(("No case yet.", "The stages fill in")),
            Empty(("No case is past its stage target.", "Nothing to chase")),
            Empty(("No need nor contract yet.", "The figures fill in")),
            Empty(("No contract signed yet.", "followed here")),
            Empty(("No delivery expected in the next 7 days.", "execution page")),
            Empty(("No contract committed yet.", "once a contract is approved")),
            Empty(("No obligation pending.", "Nothing to do")),
            Empty(("No open case is answered by a flagged supplier.", "Nothing to weigh")),
            Empty(("No case crosses the requisition threshold.", "Nothing to declare")),
        ],
    ),
    # --- execution ----------------------------------------------------------------------------------------
    "execution-buyer": Row(
        "buyer",
        lambda w: _execution(w.signed_contract()),
        [
            Empty(
                ("No delivery lot is scheduled yet.", "Schedule each delivery"), (("#record-lot", "Schedule a lot"),)
            ),
            Empty(("No delivery is late.", "A penalty is proposed here")),
            Empty(("No invoice received yet.", "30 days"), (("#record-invoice", "Record an invoice"),)),
            Empty(("Nothing allocated yet.", "beneficiaries"), (("#record-allocation", "Allocate admitted goods"),)),
        ],
    ),
    "execution-jurist": Row(
        "jurist",
        lambda w: _execution(w.signed_contract()),
        [
            Empty(("No delivery lot is scheduled yet.", "The buyers of the case schedule the deliveries")),
            Empty(("No invoice received yet.", "The buyers of the case record the invoices")),
            Empty(("Nothing allocated yet.", "The buyers of the case record the allocations")),
        ],
    ),
    "execution-lot-without-shipment": Row(
        "buyer",
        lambda w: _execution(w.lot()),
        [
            Empty(
                ("No shipment yet.", "when the supplier sends the goods"), (("#record-shipment", "Record a shipment"),)
            )
        ],
    ),
    "execution-shipment-in-transit": Row(
        "buyer",
        lambda w: _execution(w.shipment()),
        [
            Empty(("No milestone yet", "customs clearance"), (("#record-milestone", "Record a milestone"),)),
            Empty(("No incident reported", "diversion"), (("#record-incident", "Record an incident"),)),
            Empty(("Not received yet", "decide on it"), (("#record-reception", "Record a reception"),)),
        ],
    ),
}


@pytest.fixture
def world(buyer, jurist, director):
    return World(buyer, jurist, director)


def _matches(block: dict, expected: Empty) -> bool:
    if not all(text in block["text"] for text in expected.texts):
        return False
    for href, label in expected.links:
        if not any(href in shown_href and shown_label == label for shown_href, shown_label in block["links"]):
            return False
    return True


@pytest.mark.parametrize("name", ROWS)
def test_an_empty_list_says_what_it_means_and_what_to_do(client, world, name):
    row = ROWS[name]
    url = row.url(world)
    client.cookies["django_language"] = "en"
    client.force_login(world.users[row.role])
    response = client.get(url)
    assert response.status_code == 200, url
    blocks = empty_states(response.content.decode())
    for expected in row.expected:
        found = [block for block in blocks if _matches(block, expected)]
        assert found, f"{name}: no empty state with {expected} among {blocks}"
        if not expected.links and not expected.any_link:
            # A user who may not act is told who does, and is not sent to a page that would refuse them.
            assert not found[0]["links"], f"{name}: unexpected link in {found[0]}"


def test_links_of_empty_states_resolve_to_pages_the_user_may_open(client, world):
    """The action links of the buyer's empty case page lead somewhere real, not to a 403 or a 404."""
    case = world.case_at_vetting()
    client.force_login(world.buyer)
    blocks = empty_states(client.get(case.get_absolute_url()).content.decode())
    hrefs = [href for block in blocks for href, _label in block["links"]]
    assert hrefs
    for href in hrefs:
        assert client.get(href).status_code == 200, href
