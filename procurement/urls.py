from django.urls import path, re_path

from procurement import views

app_name = "procurement"
urlpatterns = [
    path("", views.case_list, name="case_list"),
    re_path(r"^export\.(?P<format>csv|xlsx)$", views.case_list_export, name="case_list_export"),
    path("nouveau/", views.case_create, name="case_create"),
    path("<int:pk>/", views.case_detail, name="case_detail"),
    path("<int:pk>/prochaines-etapes/", views.case_next_steps, name="case_next_steps"),
    path("<int:pk>/besoin/", views.case_edit_need, name="case_edit_need"),
    path("<int:pk>/acheteurs/", views.case_assign_buyer, name="case_assign_buyer"),
    path("<int:pk>/etape/<str:name>/", views.case_transition, name="case_transition"),
    path("<int:pk>/offres/nouvelle/", views.offer_create, name="offer_create"),
    path("<int:pk>/verification/", views.vetting_create, name="vetting_create"),
    path("<int:pk>/comparaison/", views.offer_comparison, name="offer_comparison"),
    path("offres/<int:pk>/", views.offer_detail, name="offer_detail"),
    path("offres/<int:pk>/chaine/ajouter/", views.chain_party_add, name="chain_party_add"),
    path("chaine/<int:pk>/retirer/", views.chain_party_remove, name="chain_party_remove"),
    path("verifications/<int:pk>/contreseing/", views.vetting_countersign, name="vetting_countersign"),
    path("offres/<int:pk>/conformite/", views.conformity_create, name="conformity_create"),
    path("conformite/<int:pk>/arbitrage/", views.conformity_override, name="conformity_override"),
    path("conformite/pieces/<int:pk>/telecharger/", views.evidence_download, name="evidence_download"),
    path("offres/<int:pk>/negociation/", views.round_create, name="round_create"),
]
