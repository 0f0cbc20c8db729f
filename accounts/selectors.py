from accounts.models import User


def members_with_role(organisation_id: int, role: str):
    """Active members of an organisation holding a role (accounts.roles), e.g. its jurists."""
    return User.objects.filter(organisation_id=organisation_id, groups__name=role, is_active=True)
